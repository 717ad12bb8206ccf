"""The stack's floor for benchmark 2: the site's Bitbucket login written straight on the stack.

A bare Pyramid app with nothing of cms_social_login: pyramid_tm, pyramid_retry, Pyramid's
signed cookie session, a SQLAlchemy session joined to the transaction by zope.sqlalchemy,
psycopg, one pooled ``requests.Session`` with a timeout for the provider. It does what the
site does for a returning user, each step the cheapest plain way (statements built once):

- ``GET /login/bitbucket``: a random state, its hash kept in the session, off to the
  authorize URL;
- ``GET /login/bitbucket/callback``: the state checked against the session and taken for
  good (its hash inserted, ``ON CONFLICT DO NOTHING RETURNING``); the provider calls the
  site's Bitbucket provider makes (token, ``/user``, ``/user/emails``); the identity's
  name, email and last login updated (``UPDATE ... RETURNING``; a first login inserts
  it); a session row and an audit row inserted; a new session holding the user; back
  to ``/``.

Its logins per second are the floor that benchmark 2's figure is set against: what the site
takes above it is the add-on's own (the published settings, the provider API, the
address policy and deadlines of its HTTP client, the user adapter, the events...).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPFound, HTTPSeeOther
from pyramid.session import SignedCookieSessionFactory
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import sessionmaker
from zope.sqlalchemy import mark_changed, register

metadata = MetaData()
used_states = Table(
    "floor_used_states", metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("used_at", DateTime(timezone=True), nullable=False, index=True))
identities = Table(
    "floor_identities", metadata,
    Column("id", Integer, primary_key=True),
    Column("provider_user_id", String(255), nullable=False, unique=True),
    Column("userid", String(255), nullable=False),
    Column("display_name", String(255)),
    Column("email", String(320)),
    Column("last_login_at", DateTime(timezone=True), nullable=False))
sessions = Table(
    "floor_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("userid", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True))
audit = Table(
    "floor_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(255)),
    Column("detail", JSON, nullable=False))

CLAIM = (postgresql.insert(used_states)
         .values(state_hash=bindparam("state_hash"), used_at=bindparam("used_at"))
         .on_conflict_do_nothing(index_elements=["state_hash"])
         .returning(used_states.c.state_hash))
TOUCH = (update(identities)
         .where(identities.c.provider_user_id == bindparam("key_user"))
         .values(display_name=bindparam("new_name"), email=bindparam("new_email"),
                 last_login_at=bindparam("new_at"))
         .returning(identities.c.userid))
ADD_IDENTITY = insert(identities)
ADD_SESSION = insert(sessions)
ADD_AUDIT = insert(audit)


def digest(token: str) -> str:
    """The SHA-256 hex digest a random token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


def committed_logins(app: Any) -> int:
    """How many sign-ins the floor's database holds (each login commits one session row)."""
    with app.registry["floor.engine"].connect() as connection:
        return connection.execute(select(func.count()).select_from(sessions)).scalar_one()


def make_app(database_url: str, *, site: str, client_id: str, client_secret: str,
             authorize_url: str, token_url: str, api_url: str, secret: str) -> Any:
    """The floor's WSGI app on ``database_url`` (PostgreSQL; its tables are made here)."""
    engine = create_engine(database_url, pool_size=8)
    metadata.create_all(engine)
    factory = sessionmaker(bind=engine)
    http = requests.Session()
    http.trust_env = False
    http.headers["Accept"] = "application/json"
    redirect_uri = f"{site}/login/bitbucket/callback"

    def dbsession(request: Any) -> Any:
        session = factory()
        register(session, transaction_manager=request.tm)
        return session

    def start(request: Any) -> Any:
        state = secrets.token_urlsafe(32)
        request.session["state"] = digest(state)
        request.session["came_from"] = request.GET.get("came_from", "/")
        return HTTPFound(location=authorize_url + "?" + urlencode({
            "client_id": client_id, "response_type": "code", "state": state,
            "redirect_uri": redirect_uri}))

    def callback(request: Any) -> Any:
        state = request.GET.get("state")
        if not state or request.session.pop("state", None) != digest(state):
            return HTTPBadRequest()
        now = datetime.now(timezone.utc)
        db = request.dbsession
        if db.execute(CLAIM, {"state_hash": digest(state), "used_at": now}).first() is None:
            return HTTPBadRequest()
        mark_changed(db)  # Core statements: zope.sqlalchemy commits only a marked session
        token = http.post(token_url, data={
            "grant_type": "authorization_code", "code": request.GET["code"],
            "redirect_uri": redirect_uri}, auth=(client_id, client_secret), timeout=5).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        user = http.get(f"{api_url}/user", headers=bearer, timeout=5).json()
        emails = http.get(f"{api_url}/user/emails", headers=bearer, timeout=5).json()
        email = next((e["email"] for e in emails.get("values", [])
                      if e.get("is_primary") and e.get("is_confirmed")), None)
        values = {"key_user": user["uuid"], "new_name": user.get("display_name"),
                  "new_email": email, "new_at": now}
        userid = db.execute(TOUCH, values).scalar()
        if userid is None:
            userid = f"bitbucket:{user['uuid']}"
            db.execute(ADD_IDENTITY, {"provider_user_id": user["uuid"], "userid": userid,
                                      "display_name": values["new_name"], "email": email,
                                      "last_login_at": now})
        session_token = secrets.token_urlsafe(32)
        db.execute(ADD_SESSION, {"token_hash": digest(session_token), "userid": userid,
                                 "created_at": now, "expires_at": now + timedelta(days=7)})
        db.execute(ADD_AUDIT, {"at": now, "action": "success", "actor": userid,
                               "detail": {"provider": "bitbucket"}})
        came_from = request.session.get("came_from", "/")
        request.session.invalidate()
        request.session["userid"], request.session["token"] = userid, session_token
        return HTTPSeeOther(location=came_from)

    with Configurator(settings={"retry.attempts": "3"}) as config:
        config.registry["floor.engine"] = engine
        config.include("pyramid_tm")
        config.include("pyramid_retry")
        config.set_session_factory(SignedCookieSessionFactory(
            secret, httponly=True, samesite="Lax", timeout=43200))
        config.add_request_method(dbsession, "dbsession", reify=True)
        config.add_route("start", "/login/bitbucket")
        config.add_route("callback", "/login/bitbucket/callback")
        config.add_view(start, route_name="start", request_method="GET")
        config.add_view(callback, route_name="callback", request_method="GET")
    return config.make_wsgi_app()

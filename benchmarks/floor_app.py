"""The stack's floor for benchmark 4: a bare Pyramid app on the same stack as the site.

Served by ``pserve`` from a copy of production.ini (same waitress settings), it loads what
any Pyramid + SQLAlchemy site of this shape loads and nothing of cms_social_login:
pyramid_jinja2, pyramid_tm, pyramid_retry, a SQLAlchemy ORM session joined to the
transaction by zope.sqlalchemy, psycopg (one connection made at start), and a ``/login``
view rendering the site's login page (its bytes, saved to ``floor.page``) through a
Jinja2 template. Its worker's peak RSS is the floor that benchmark 4's figure is set
against: what the site holds above it is the add-on's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from sqlalchemy import Column, Integer, String, engine_from_config, text
from sqlalchemy.orm import declarative_base, sessionmaker
from zope.sqlalchemy import register

Base = declarative_base()


class Account(Base):
    """One table, as a starter app has (it is not queried on ``/login``)."""

    __tablename__ = "floor_accounts"
    id = Column(Integer, primary_key=True)
    name = Column(String(100))


def main(global_config: dict[str, Any], **settings: str) -> Any:
    """The paste app factory (``use = call:benchmarks.floor_app:main``)."""
    engine = engine_from_config(settings, "sqlalchemy.")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    factory = sessionmaker(bind=engine)
    page = Path(settings["floor.page"])
    page.with_name("floor_login.jinja2").write_text(
        page.read_text().replace("{", "{{ '{' }}"))

    def dbsession(request: Any) -> Any:
        session = factory()
        register(session, transaction_manager=request.tm)
        return session

    def login(request: Any) -> dict[str, str]:
        return {}

    with Configurator(settings=settings) as config:
        config.include("pyramid_jinja2")
        config.include("pyramid_tm")
        config.include("pyramid_retry")
        config.add_request_method(dbsession, "dbsession", reify=True)
        config.add_jinja2_search_path(str(page.parent), name=".jinja2")
        config.add_route("login", "/login")
        config.add_view(login, route_name="login", renderer="floor_login.jinja2")
    return config.make_wsgi_app()

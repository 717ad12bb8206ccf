"""First start of the demo: create the schema and the demo editor account."""

from __future__ import annotations

import transaction
from sqlalchemy import select

from cms_social_login.models import get_tm_session
from cms_social_login.models import metadata as social_login_metadata

from .models import Base, User

DEMO_EDITOR = ("editor", "editor")


def setup_database(registry) -> None:
    """Create missing tables and the ``editor`` / ``editor`` account (demo only)."""
    session_factory = registry["cms_social_login.dbsession_factory"]
    engine = session_factory.kw["bind"]
    social_login_metadata.create_all(engine)
    Base.metadata.create_all(engine)
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        dbsession = get_tm_session(session_factory, tm)
        if dbsession.scalar(select(User).where(User.username == DEMO_EDITOR[0])) is None:
            editor = User(username=DEMO_EDITOR[0], display_name="Demo Editor", is_editor=True)
            editor.set_password(DEMO_EDITOR[1])
            dbsession.add(editor)
            print(f"Demo editor account created: {DEMO_EDITOR[0]} / {DEMO_EDITOR[1]} "
                  "(demo only)", flush=True)
        else:
            print(f"Demo editor account: {DEMO_EDITOR[0]} / {DEMO_EDITOR[1]} (demo only)",
                  flush=True)

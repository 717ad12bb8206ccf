"""The audit log cannot be flooded: a failure repeated in the window adds to one counted
row per provider, outcome, cause and actor (anonymous visitors together, each signed-in
person apart), and the cause holds no text of the visitor's choosing (a ``?error=`` that
is no error code reads "an error")."""

from __future__ import annotations

from sqlalchemy import select

from cms_social_login.models import AuditEvent
from cms_social_login.testing.steps import query_of

from ..helpers import callback_path, start_login
from .helpers import dbsession_of

REPEATS = 40


def failures(app) -> list[tuple[str | None, str, int]]:
    with dbsession_of(app) as db:
        return [(e.actor, e.detail.get("reason"), e.detail.get("count"))
                for e in db.scalars(select(AuditEvent).where(AuditEvent.kind == "signin",
                                                             AuditEvent.action != "success")
                                    .order_by(AuditEvent.id))]


def test_error_texts_of_the_visitors_choosing_are_one_counted_row(app, published_bitbucket,
                                                                   visitor):
    """The review's flood: a fresh state each time, then the callback with another
    ``?error=`` text. One row counts them all; a real error code keeps its own."""
    for number in range(REPEATS):
        state = query_of(start_login(visitor))["state"]
        visitor.get(f"/login/bitbucket/callback?state={state}&error=x{number:04d}%20said%20so",
                    status="*")
    state = query_of(start_login(visitor))["state"]
    visitor.get(f"/login/bitbucket/callback?state={state}&error=access_denied", status="*")
    assert failures(app) == [
        (None, "bitbucket: the provider answered an error", REPEATS),
        (None, "bitbucket: the provider answered access_denied", 1)]


def test_a_signed_in_persons_failures_are_counted_per_person(
        app, published_bitbucket, make_browser, bitbucket, bitbucket_user):
    """A signed-in user repeating a failed callback adds to their own row; the editor's
    same failure is another person's row."""
    user = make_browser()
    assert user.get(callback_path(bitbucket.approve(start_login(user)))).status_int == 303
    for _ in range(REPEATS):
        user.get("/login/bitbucket/callback", status="*")
    for _ in range(3):
        published_bitbucket.get("/login/bitbucket/callback", status="*")
    rows = failures(app)
    assert [count for _actor, _reason, count in rows] == [REPEATS, 3]
    assert rows[0][0] is not None and rows[1][0] is not None and rows[0][0] != rows[1][0]
    assert rows[0][1] == rows[1][1]

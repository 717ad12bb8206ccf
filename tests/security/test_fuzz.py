"""Random input at the callback and the settings form: never a 5xx, never a new user,
never a changed record."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity, LoginSettings, PublishRecord

from ..conftest import settings_form
from .helpers import count, dbsession_of

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
               max_size=80)
known_keys = st.sampled_from(["code", "state", "error", "error_description", "came_from",
                              "bitbucket.enabled", "bitbucket.client_id",
                              "bitbucket.client_secret", "bitbucket.client_secret.pending",
                              "bitbucket.position", "bitbucket.link_by_email", "tab",
                              "draft_version", "action"])
pairs = st.lists(st.tuples(st.one_of(known_keys, text), text), max_size=8)


def snapshot(app):
    with dbsession_of(app) as db:
        return ([(r.stage, r.version, r.document) for r in db.scalars(select(LoginSettings))],
                count(app, PublishRecord), count(app, User), count(app, LinkedIdentity))


@FUZZ
@given(query=pairs, provider=st.sampled_from(["bitbucket", "nosuch", "BITBUCKET", "%00"]))
def test_random_callbacks(app, published_bitbucket, visitor, query, provider):
    before = snapshot(app)
    response = visitor.get(f"/login/{provider}/callback", params=query, status="*")
    assert response.status_int < 500
    assert snapshot(app) == before
    assert "Traceback" not in response.text


@FUZZ
@given(fields=pairs, action=st.one_of(st.sampled_from(["ok", "apply", "save", "preview"]),
                                      text))
def test_random_settings_forms(app, published_bitbucket, fields, action):
    editor = published_bitbucket
    token = settings_form(editor)["csrf_token"].value
    before = snapshot(app)
    body = [("csrf_token", token), *fields, ("action", action)]
    response = editor.post("/editor/system-pages/login/settings", body, status="*")
    assert response.status_int < 500
    if response.status_int != 303:  # only a valid Apply/Save/Preview may store
        assert snapshot(app) == before
    assert "Traceback" not in response.text

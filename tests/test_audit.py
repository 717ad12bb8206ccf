"""The audit log records editor actions and sign-in outcomes, without secrets or tokens,
as rows editors can filter and as structured log lines."""

from __future__ import annotations

import json
import logging

from .conftest import CLIENT_SECRET, callback_path, start_login, submit_bitbucket

AUDIT = "/editor/system-pages/login/audit"


def audit_rows(page):
    return [[td.get_text(" ", strip=True) for td in row.find_all("td")]
            for row in page.html.select("tbody tr")]


def test_editor_actions_and_sign_ins_are_recorded(app, editor, make_browser, bitbucket,
                                                  bitbucket_user, caplog):
    caplog.set_level(logging.INFO, logger="cms_social_login.audit")
    submit_bitbucket(editor, "apply").follow()
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    denied = make_browser()
    denied.get(callback_path(bitbucket.deny(start_login(denied))))
    rows = audit_rows(editor.get(AUDIT))
    assert [(r[1], r[2]) for r in rows] == [("signin", "denied"), ("signin", "success"),
                                            ("editor", "save"), ("editor", "apply")]
    assert rows[1][4] == "Ada Lovelace" and "new_account : True" in rows[1][5]
    assert "Bitbucket: Bitbucket Client Secret" in rows[3][5]
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "cms_social_login.audit"]
    assert [line["action"] for line in lines] == ["apply", "save", "success", "denied"]
    assert all(line["event"] == "cms_social_login.audit" for line in lines)
    everything = editor.get(AUDIT).text + caplog.text
    assert CLIENT_SECRET not in everything
    token = bitbucket.requests_to("user")[0].headers["Authorization"].split()[-1]
    assert token not in everything


def test_filters(editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    assert [r[2] for r in audit_rows(editor.get(AUDIT, {"kind": "editor"}))] == ["save"]
    assert [r[2] for r in audit_rows(editor.get(AUDIT, {"action": "success"}))] == ["success"]
    assert audit_rows(editor.get(AUDIT, {"provider": "github"})) == []
    assert len(audit_rows(editor.get(AUDIT, {"days": "1"}))) == 2
    # Nonsense filters are ignored, not errors.
    assert len(audit_rows(editor.get(AUDIT, {"kind": "x", "days": "-4", "page": "z"}))) == 2


def test_failed_sign_ins_record_their_outcome(editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    location = bitbucket.approve(start_login(visitor))
    bitbucket.fail("token", status=500)
    visitor.get(callback_path(location), status=303)
    visitor.get(callback_path(location), status=303)
    rows = audit_rows(editor.get(AUDIT, {"kind": "signin"}))
    assert [r[2] for r in rows] == ["invalid-state", "error"]
    assert "HTTP 500" in rows[1][5]


def test_only_editors_see_it(visitor):
    assert "/login?came_from=" in visitor.get(AUDIT, status=303).location

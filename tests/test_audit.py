"""The audit log records editor actions and sign-in outcomes, without secrets or tokens,
as rows editors read in plain words, filter, count per provider and download as CSV, and
as structured log lines. Floods of bad callbacks are counted, not stored row by row; old
rows are swept after the retention period."""

from __future__ import annotations

import csv
import io
import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import select

from cms_social_login.models import AuditEvent, LoginSettings
from cms_social_login.models.records import utcnow
from cms_social_login.services import audit
from cms_social_login.settings import SocialLoginSettings

from .helpers import CLIENT_SECRET, SECRET_KEY, callback_path, start_login, submit_bitbucket
from .security.helpers import count, dbsession_of

AUDIT = "/editor/system-pages/login/audit"
#: Words of the code that must never reach the page as they are.
INTERNAL_KEYS = ("invalid-state", "new_account", "signin", "publish-version", "first_at",
                 "missing_providers", '"reason"', "{'")


def audit_rows(page):
    return [[td.get_text(" ", strip=True) for td in row.find_all("td")]
            for row in page.html.select("table.audit-events tbody tr")]


def audit_table(page) -> str:
    return page.html.select_one("main").get_text(" ", strip=True)


def test_a_preview_of_unchanged_settings_stores_no_new_draft_version(app, editor):
    """Apply, then Preview without a change: the preview shows the stored draft; nothing
    is written, so the log reads Draft version 1 (Apply), Published version 1 (Save)."""
    submit_bitbucket(editor, "apply").follow()
    preview = submit_bitbucket(editor, "preview")
    assert preview.location.endswith("/editor/system-pages/login/preview")
    assert preview.follow().status_int == 200
    with dbsession_of(app) as db:
        assert db.scalar(select(LoginSettings.version).where(
            LoginSettings.stage == "draft")) == 1
    changed = submit_bitbucket(editor, "preview", client_id="otherKey1234567890")
    assert changed.location.endswith("/editor/system-pages/login/preview")
    submit_bitbucket(editor, "save").follow()
    rows = audit_rows(editor.get(AUDIT))
    assert [(r[2], r[5].split(" Changed:")[0]) for r in rows] == [
        ("Published (Save)", "Published version 1"),
        ("Draft stored for Preview", "Draft version 2"),
        ("Draft stored (Apply)", "Draft version 1"),
    ]
    assert "Nothing changed" not in audit_table(editor.get(AUDIT))


def test_editor_actions_and_sign_ins_are_recorded_in_plain_words(
        app, editor, make_browser, bitbucket, bitbucket_user, caplog):
    caplog.set_level(logging.INFO, logger="cms_social_login.audit")
    submit_bitbucket(editor, "apply").follow()
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    denied = make_browser()
    denied.get(callback_path(bitbucket.deny(start_login(denied))))
    page = editor.get(AUDIT)
    rows = audit_rows(page)
    assert [(r[1], r[2]) for r in rows] == [
        ("Sign-in", "Cancelled at the provider"), ("Sign-in", "Signed in"),
        ("Editor action", "Published (Save)"), ("Editor action", "Draft stored (Apply)")]
    assert rows[0][3:5] == ["Bitbucket", "Not signed in"]
    assert "The Bitbucket login was cancelled, so you are not signed in." in rows[0][5]
    assert rows[1][4] == "Ada Lovelace" and rows[1][5] == "New account created"
    assert "Draft version 1" in rows[3][5] and "Bitbucket: Bitbucket Client Secret" in rows[3][5]
    assert "Published version 1" in rows[2][5]
    text = audit_table(page)
    assert not [word for word in INTERNAL_KEYS if word in text]
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "cms_social_login.audit"]
    assert [line["action"] for line in lines] == ["apply", "save", "success", "denied"]
    assert all(line["event"] == "cms_social_login.audit" for line in lines)
    everything = page.text + caplog.text
    assert CLIENT_SECRET not in everything
    token = bitbucket.requests_to("user")[0].headers["Authorization"].split()[-1]
    assert token not in everything


def test_filters_and_the_provider_drop_down(editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    page = editor.get(AUDIT)
    options = {o["value"]: o.get_text(strip=True)
               for o in page.html.select("#filter-provider option")}
    assert options["bitbucket"] == "Bitbucket" and options[""] == "All"
    assert [r[2] for r in audit_rows(editor.get(AUDIT, {"kind": "editor"}))] \
        == ["Published (Save)"]
    assert [r[2] for r in audit_rows(editor.get(AUDIT, {"action": "success"}))] \
        == ["Signed in"]
    # The provider filter ignores case (a hand-typed or old link still works).
    assert len(audit_rows(editor.get(AUDIT, {"provider": "BitBucket"}))) == 1
    assert audit_rows(editor.get(AUDIT, {"provider": "github"})) == []
    assert len(audit_rows(editor.get(AUDIT, {"days": "1"}))) == 2
    # Nonsense filters are ignored, not errors.
    assert len(audit_rows(editor.get(AUDIT, {"kind": "x", "days": "-4", "page": "z"}))) == 2


def test_counts_per_provider(editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    for _ in range(2):
        visitor = make_browser()
        visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    for _ in range(3):
        make_browser().get("/login/bitbucket/callback?state=" + "x" * 20, status=303)
    counts = editor.get(AUDIT).html.select_one("table.audit-counts")
    [row] = counts.select("tbody tr")
    assert [cell.get_text(strip=True) for cell in row.find_all(["th", "td"])] \
        == ["Bitbucket", "2", "3"]


def test_failed_sign_ins_record_their_outcome(editor, make_browser, bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    location = bitbucket.approve(start_login(visitor))
    bitbucket.fail("token", status=500)
    visitor.get(callback_path(location), status=303)
    visitor.get(callback_path(location), status=303)
    rows = audit_rows(editor.get(AUDIT, {"kind": "signin"}))
    assert [r[2] for r in rows] == ["Expired, reused or unknown login link", "Sign-in failed"]
    assert "Bitbucket could not complete the login" in rows[1][5]
    # The row keeps the operator's cause in words, and the editor's page shows only the
    # visitor's message: never the HTTP status or the server's address (item 4 of
    # issue 12: the audit page must not be a port scanner's oracle).
    with dbsession_of(editor.app) as db:
        error = db.scalar(select(AuditEvent).where(AuditEvent.action == "error"))
    assert "answered with an error" in error.detail["reason"]
    assert "HTTP" not in error.detail["reason"] and "HTTP" not in rows[1][5]


def test_only_editors_see_it(visitor):
    assert "/login?came_from=" in visitor.get(AUDIT, status=303).location
    assert "/login?came_from=" in visitor.get(AUDIT, {"format": "csv"}, status=303).location


# --------------------------------------------------------------------------- floods


def test_five_hundred_bad_callbacks_are_one_counted_row(app, editor, make_browser, bitbucket,
                                                         bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    attacker = make_browser()
    for number in range(500):
        attacker.get(f"/login/bitbucket/callback?state=forged-state-{number:06d}&code=x",
                     status=303)
    assert count(app, AuditEvent) == 3
    rows = audit_rows(editor.get(AUDIT))
    assert [r[2] for r in rows] == ["Expired, reused or unknown login link", "Signed in",
                                    "Published (Save)"]
    assert "500 times since " in rows[0][5]


def test_signed_in_failures_and_other_causes_stay_apart(app, editor, make_browser, bitbucket,
                                                        bitbucket_user):
    submit_bitbucket(editor, "save").follow()
    for _ in range(2):  # a signed-in editor's failures: their own row, with a count
        editor.get("/login/bitbucket/callback?state=" + "e" * 20, status=303)
    for _ in range(2):  # an anonymous visitor's: one row with a count
        make_browser().get("/login/bitbucket/callback?state=" + "v" * 20, status=303)
    make_browser().get("/login/bitbucket/callback", status=303)  # no state: the same cause
    with dbsession_of(app) as db:
        failures = list(db.scalars(select(AuditEvent).where(AuditEvent.kind == "signin")
                                   .order_by(AuditEvent.id)))
    assert [(f.actor is None, f.detail.get("count")) for f in failures] == [
        (False, 2), (True, 3)]


def test_a_window_later_the_same_failure_starts_a_new_row(app, editor, make_browser):
    submit_bitbucket(editor, "save").follow()
    make_browser().get("/login/bitbucket/callback?state=" + "v" * 20, status=303)
    with dbsession_of(app) as db:
        row = db.scalar(select(AuditEvent).where(AuditEvent.kind == "signin"))
        earlier = utcnow() - audit.REPEAT_WINDOW - timedelta(minutes=1)
        row.at, row.detail = earlier, {**row.detail, "first_at": earlier.isoformat()}
        db.commit()
    make_browser().get("/login/bitbucket/callback?state=" + "v" * 20, status=303)
    with dbsession_of(app) as db:
        counts = [e.detail["count"] for e in db.scalars(
            select(AuditEvent).where(AuditEvent.kind == "signin"))]
    assert counts == [1, 1]


def test_unknown_providers_are_a_404_without_an_audit_row(app, visitor, caplog):
    caplog.set_level(logging.WARNING, logger="cms_social_login")
    for path in ("/login/nope", "/login/nope/callback?state=" + "s" * 20,
                 "/login/x%0aINFO%20forged%20line", "/login/x%0d%0aforged/callback"):
        page = visitor.get(path, status=404)
        assert "This login option is not available." in page.text
        assert page.html.select_one("form input[name=password]") is not None  # the login page
    assert count(app, AuditEvent) == 0
    failures = [r.getMessage() for r in caplog.records if "social login failed" in r.getMessage()]
    assert len(failures) == 4
    assert all("\n" not in line and "\r" not in line for line in failures)
    assert "provider=x\\x0aINFO forged line" in failures[2]


def test_control_characters_of_causes_are_escaped_in_the_log(app, editor, make_browser,
                                                             caplog, bitbucket):
    caplog.set_level(logging.WARNING, logger="cms_social_login")
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    location = start_login(visitor)
    bitbucket.fail("token", status=400, body={"error": "bad\nFAKE LINE\u2028"})
    state = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))["state"]
    visitor.get(f"/login/bitbucket/callback?code=abc&state={state}")
    [line] = [r.getMessage() for r in caplog.records if "social login failed" in r.getMessage()]
    assert "\n" not in line and "\u2028" not in line
    assert "bad\\x0aFAKE LINE\\u2028" in line


# --------------------------------------------------------------------------- CSV


def test_csv_export_has_the_pages_filters_and_cannot_run_formulas(
        editor, make_browser, bitbucket):
    submit_bitbucket(editor, "save").follow()
    mallory = bitbucket.add_user('=HYPERLINK("https://evil.example/","Click")',
                                 nickname="mallory")
    bitbucket.current_user = mallory
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    page = editor.get(AUDIT, {"kind": "signin", "provider": "Bitbucket"})
    link = page.html.find("a", string="Download as CSV")
    response = editor.get(link["href"])
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert rows[0] == ["When (UTC)", "Kind", "Action or outcome", "Provider", "Who", "Detail"]
    assert len(rows) == 2  # the filter (sign-ins only) holds: no "Published" row
    assert rows[1][1:4] == ["Sign-in", "Signed in", "Bitbucket"]
    assert rows[1][4] == "'" + '=HYPERLINK("https://evil.example/","Click")'
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert audit.csv_cell(value) == "'" + value
    assert audit.csv_cell("Bitbucket") == "Bitbucket"


def test_csv_export_in_german(editor):
    submit_bitbucket(editor, "save").follow()
    response = editor.get(AUDIT, {"format": "csv", "_LOCALE_": "de"})
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert rows[0][0] == "Wann (UTC)" and rows[1][2] == "Veröffentlicht (Speichern)"


# --------------------------------------------------------------------------- retention


def age_rows(app, days: int, how_many: int) -> None:
    """Put ``how_many`` editor rows ``days`` old into the log."""
    with dbsession_of(app) as db:
        for number in range(how_many):
            db.add(AuditEvent(kind="editor", action="apply", actor="editor",
                              detail={"version": number},
                              at=utcnow() - timedelta(days=days)))
        db.commit()


def test_old_rows_are_swept_from_a_write_path(app, editor):
    age_rows(app, 400, 3)
    age_rows(app, 300, 1)
    submit_bitbucket(editor, "apply").follow()  # the first write of this process sweeps
    with dbsession_of(app) as db:
        ages = sorted((utcnow() - audit.as_utc(e.at)).days for e in db.scalars(
            select(AuditEvent)))
    assert ages == [0, 300]
    # At most once per SWEEP_INTERVAL per process: the next write leaves new old rows.
    age_rows(app, 400, 1)
    submit_bitbucket(editor, "apply").follow()
    assert count(app, AuditEvent) == 4


def test_sweep_deletes_in_batches_and_keeps_everything_with_zero(app):
    age_rows(app, 40, audit.SWEEP_BATCH + 5)
    with dbsession_of(app) as db:
        assert audit.sweep(db, 0) == 0
        assert audit.sweep(db, 30, batch=10) == 10
        assert audit.sweep(db, 30) == audit.SWEEP_BATCH - 5
        db.commit()
    assert count(app, AuditEvent) == 0


@pytest.mark.parametrize("value, days", [(None, 365), ("30", 30), ("0", 0)])
def test_the_retention_setting(value, days):
    settings = {"cms_social_login.secret_key": SECRET_KEY}
    if value is not None:
        settings["cms_social_login.audit_retention_days"] = value
    assert SocialLoginSettings.from_settings(settings).audit_retention_days == days


@pytest.mark.parametrize("value", ["-1", "a year", "1.5", "99999"])
def test_a_bad_retention_setting_stops_the_start(value):
    with pytest.raises(ConfigurationError, match="audit_retention_days"):
        SocialLoginSettings.from_settings({"cms_social_login.secret_key": SECRET_KEY,
                                           "cms_social_login.audit_retention_days": value})


def test_the_sweep_command(app, app_settings, tmp_path):
    from .helpers import write_ini

    script = Path(sys.executable).with_name("cms-social-login-db")
    if not script.exists():
        pytest.skip("cms-social-login-db is not installed: pip install -e .")
    ini = write_ini(tmp_path / "site.ini", {**app_settings,
                                            "cms_social_login.audit_retention_days": "30"})
    age_rows(app, 40, 2)
    age_rows(app, 20, 1)
    done = subprocess.run([str(script), ini, "sweep-audit"], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (
        0, "Audit log: deleted 2 row(s) older than 30 days.\n", "")
    assert count(app, AuditEvent) == 1
    kept = subprocess.run([str(script), ini, "sweep-audit", "--days", "10"],
                          capture_output=True, text=True, timeout=120)
    assert kept.stdout == "Audit log: deleted 1 row(s) older than 10 days.\n"
    # Only -v logs as the ini file says (there: INFO lines of Alembic and the add-on).
    quiet = subprocess.run([str(script), ini, "current"], capture_output=True, text=True,
                           timeout=120)
    loud = subprocess.run([str(script), ini, "-v", "current"], capture_output=True,
                          text=True, timeout=120)
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == "" and "INFO" in loud.stderr
    bad = subprocess.run([str(script), ini, "sweep-audit", "--days", "soon"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid int value" in bad.stderr


def test_loggable_escapes_what_could_forge_or_hide_a_line():
    from cms_social_login.logs import loggable

    assert loggable("bitbucket") == "bitbucket"
    assert loggable("x\nINFO forged\r") == "x\\x0aINFO forged\\x0d"
    assert loggable("a\u2028b\u202ec\x00") == "a\\u2028b\\u202ec\\x00"
    assert loggable("C:\\x0a") == "C:\\\\x0a"  # a typed backslash cannot fake an escape
    assert loggable(None) == "-" and loggable("é ü 日本") == "é ü 日本"
    assert loggable("y" * 600) == "y" * 500 + "..."


def test_the_counts_of_a_busy_log_say_at_least(app, editor, monkeypatch):
    monkeypatch.setattr(audit, "COUNT_CAP", 3)
    with dbsession_of(app) as db:
        for minutes, action in ((1, "success"), (2, "success"), (3, "denied"),
                                (4, "success")):
            db.add(AuditEvent(site="default", kind=audit.SIGNIN, action=action,
                              provider="bitbucket", detail={},
                              at=utcnow() - timedelta(minutes=minutes)))
        db.commit()
    # The newest three of the four sign-ins are counted, and the page says "at least".
    cells = [td.get_text(strip=True)
             for td in editor.get(AUDIT).html.select("table.audit-counts tbody td")]
    assert cells == ["2+", "1+"]
    monkeypatch.setattr(audit, "COUNT_CAP", 4)
    cells = [td.get_text(strip=True)
             for td in editor.get(AUDIT).html.select("table.audit-counts tbody td")]
    assert cells == ["3", "1"]


def test_a_provider_signed_in_only_beyond_the_cap_is_not_listed(app, editor, monkeypatch):
    monkeypatch.setattr(audit, "COUNT_CAP", 2)
    with dbsession_of(app) as db:
        for minutes, provider, action, detail in (
                (1, "bitbucket", "success", {}), (2, "github", "denied", {"count": 7}),
                (3, "gitlab", "success", {})):
            db.add(AuditEvent(site="default", kind=audit.SIGNIN, action=action,
                              provider=provider, detail=detail,
                              at=utcnow() - timedelta(minutes=minutes)))
        db.commit()
    # The database adds up the newest two: GitHub's one row counts its 7 failures; GitLab's
    # sign-in is the third, beyond the cap: not a row of zeros, and the others say "at least".
    rows = [[cell.get_text(strip=True) for cell in row.find_all(["th", "td"])]
            for row in editor.get(AUDIT).html.select("table.audit-counts tbody tr")]
    assert rows == [["Bitbucket", "1+", "0+"], ["GitHub", "0+", "7+"]]

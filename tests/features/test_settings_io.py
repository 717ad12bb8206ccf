"""``cms-social-login-settings``: export a site's login settings, import them as a draft.

Two real sites on their own databases: *staging* (the ``app`` fixture) and *production*
(another database and another secret key), each with an ini file like development.ini.
The command runs in-process through ``main(argv)``, and once as the installed console
script.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import webtest
from pyramid.paster import bootstrap

from cms_social_login.crypto import FernetSecretBox, SecretDecryptionError
from cms_social_login.interfaces import ISecretBox
from cms_social_login.models import DRAFT, PUBLISHED, LoginSettings, get_social_login_engine
from cms_social_login.services import settings_transfer
from cms_social_login.services.settings_transfer import EXPORT_PURPOSE

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    bitbucket_buttons,
    callback_path,
    settings_command,
    settings_form,
    start_login,
    write_ini,
)
from ..security.helpers import dbsession_of

PRODUCTION_KEY = "production-secret-key-9876543210-zyxwvutsrqponmlkjih"
OTHER_KEY = "some-other-site-secret-key-0000000000-aaaaaaaaaaaaaaa"


@pytest.fixture
def staging_ini(tmp_path, app_settings, app) -> str:
    """The ini of the staging site (the ``app`` fixture's database)."""
    return write_ini(tmp_path / "staging.ini", app_settings)


@pytest.fixture
def production_database_url(request, tmp_path, database_kind):
    """A second, empty database of the same kind as the site's."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path}/production.sqlite"
        return
    server = request.getfixturevalue("postgresql_server")
    name = f"test_prod_{uuid.uuid4().hex[:12]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def production_settings(app_settings, production_database_url) -> dict[str, str]:
    return {**app_settings, "sqlalchemy.url": production_database_url,
            "cms_social_login.secret_key": PRODUCTION_KEY}


@pytest.fixture
def production(production_settings):
    """The production site's WSGI app (its own database and secret key)."""
    from cms_demo import main as make_app

    application = make_app({}, **production_settings)
    yield application
    get_social_login_engine(application.registry).dispose()


@pytest.fixture
def production_ini(tmp_path, production_settings, production) -> str:
    return write_ini(tmp_path / "production.ini", production_settings)


def browser_on(app):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})


def editor_on(app):
    browser = browser_on(app)
    form = browser.get("/login").forms[0]
    form["login"], form["password"] = "editor", "editor"
    form.submit().follow()
    return browser


def fill_bitbucket(browser, action: str, **fields: object):
    form = settings_form(browser)
    form["bitbucket.enabled"] = True
    form["bitbucket.client_id"] = CLIENT_ID
    form["bitbucket.client_secret"] = CLIENT_SECRET
    for name, value in fields.items():
        form[f"bitbucket.{name}"] = value
    return form.submit("action", value=action).follow()


def stage_of(app, stage: str) -> LoginSettings | None:
    with dbsession_of(app) as db:
        return db.get(LoginSettings, ("default", stage))


@pytest.fixture
def staged(editor):
    """Staging has published Bitbucket (restricted to a workspace, button at 3)."""
    fill_bitbucket(editor, "save", allowed_workspaces="acme beta", position="3",
                   link_by_email=True)
    return editor


# --------------------------------------------------------------------------- export


def test_export_writes_the_published_settings_without_secrets(staged, staging_ini,
                                                              tmp_path):
    out = tmp_path / "login-settings.json"
    status, stdout, stderr = settings_command("export", staging_ini, "-o", str(out))
    assert status == 0, stderr
    assert stdout == ""
    text = out.read_text()
    assert CLIENT_SECRET not in text and CLIENT_SECRET not in stderr
    data = json.loads(text)
    assert data["format"] == "cms_social_login.settings" and data["format_version"] == 1
    assert data["stage"] == "published" and data["version"] == 1
    assert datetime.fromisoformat(data["exported_at"]).tzinfo is not None
    assert data["secrets"] == "omitted"
    assert data["providers"]["bitbucket"] == {
        "enabled": True, "position": 3, "link_by_email": True,
        "values": {"client_id": CLIENT_ID, "allowed_workspaces": "acme beta"},
        "secret_fields_omitted": ["client_secret"],
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Secrets omitted: bitbucket.client_secret" in stderr


def test_export_to_standard_output_is_only_the_json(staged, staging_ini):
    status, stdout, stderr = settings_command("export", staging_ini)
    assert status == 0, stderr
    assert json.loads(stdout)["stage"] == "published"


def test_export_of_the_draft(staged, staging_ini):
    fill_bitbucket(staged, "apply", client_id="draftKey1234567890", enabled=False)
    status, stdout, _ = settings_command("export", staging_ini, "--stage", "draft")
    assert status == 0
    data = json.loads(stdout)
    assert data["stage"] == "draft"
    assert data["version"] == stage_of(staged.app, DRAFT).version
    assert data["providers"]["bitbucket"]["values"]["client_id"] == "draftKey1234567890"
    assert data["providers"]["bitbucket"]["enabled"] is False


def test_export_with_secrets_encrypted_for_the_target_key(staged, staging_ini,
                                                          monkeypatch):
    monkeypatch.setenv("TARGET_SECRET_KEY", PRODUCTION_KEY)
    status, stdout, stderr = settings_command("export", staging_ini,
                                 "--with-secrets-for-key-env", "TARGET_SECRET_KEY")
    assert status == 0, stderr
    for text in (stdout, stderr):
        assert CLIENT_SECRET not in text and PRODUCTION_KEY not in text
    data = json.loads(stdout)
    assert data["secrets"] == "encrypted-for-target-key"
    token = data["providers"]["bitbucket"]["secrets"]["client_secret"]
    assert "secret_fields_omitted" not in data["providers"]["bitbucket"]
    assert FernetSecretBox(PRODUCTION_KEY, purpose=EXPORT_PURPOSE).decrypt(token) \
        == CLIENT_SECRET
    # Only the target's key opens it: not this site's, not as a secret at rest.
    for box in (staged.app.registry.getUtility(ISecretBox), FernetSecretBox(PRODUCTION_KEY)):
        with pytest.raises(SecretDecryptionError):
            box.decrypt(token)


def test_export_needs_the_key_variable_to_be_set(staged, staging_ini, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    status, stdout, stderr = settings_command("export", staging_ini,
                                 "--with-secrets-for-key-env", "NO_SUCH_KEY_VARIABLE")
    assert status == 2 and stdout == ""
    assert "NO_SUCH_KEY_VARIABLE is not set" in stderr


def test_a_target_key_shorter_than_a_secret_key_is_refused(staged, staging_ini, monkeypatch):
    monkeypatch.setenv("TARGET_SECRET_KEY", "too-short-for-a-site")
    status, stdout, stderr = settings_command("export", staging_ini,
                                 "--with-secrets-for-key-env", "TARGET_SECRET_KEY")
    assert status == 2 and stdout == ""
    assert "the key in TARGET_SECRET_KEY has 20 characters" in stderr
    assert "at least 32" in stderr and "Traceback" not in stderr


def test_export_of_a_stage_never_stored(editor, staging_ini):
    status, stdout, stderr = settings_command("export", staging_ini)
    assert status == 1 and stdout == ""
    assert "no published login settings yet" in stderr


def test_export_of_an_unknown_stage_is_a_usage_error(staged, staging_ini, capsys):
    status, stdout, _ = settings_command("export", staging_ini, "--stage", "live")
    assert status == 2 and stdout == ""
    assert "invalid choice: 'live'" in capsys.readouterr().err


# --------------------------------------------------------------------------- import


def export_from_staging(staging_ini, *extra: str) -> dict:
    status, stdout, stderr = settings_command("export", staging_ini, *extra)
    assert status == 0, stderr
    return json.loads(stdout)


def import_into(production_ini, tmp_path, data) -> tuple[int, str, str]:
    path = tmp_path / f"import-{uuid.uuid4().hex[:6]}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return settings_command("import", production_ini, str(path))


def test_staging_to_production_with_secrets(staged, staging_ini, production,
                                            production_ini, tmp_path, monkeypatch,
                                            bitbucket, bitbucket_user):
    monkeypatch.setenv("PRODUCTION_KEY", PRODUCTION_KEY)
    data = export_from_staging(staging_ini, "--with-secrets-for-key-env", "PRODUCTION_KEY")
    status, stdout, stderr = import_into(production_ini, tmp_path, data)
    assert status == 0, stderr
    assert "as the draft, version 1" in stdout and "Nothing is published" in stdout
    assert CLIENT_SECRET not in stdout + stderr

    # A draft only: the live login page of production is unchanged.
    assert stage_of(production, PUBLISHED) is None
    draft = stage_of(production, DRAFT)
    assert draft.updated_by == settings_transfer.IMPORT_USER
    bitbucket_part = draft.document["bitbucket"]
    assert bitbucket_part["values"] == {"client_id": CLIENT_ID,
                                        "allowed_workspaces": "acme beta"}
    assert bitbucket_part["position"] == 3 and bitbucket_part["link_by_email"] is True
    stored_secret = bitbucket_part["secrets"]["client_secret"]
    assert CLIENT_SECRET not in json.dumps(draft.document)
    assert production.registry.getUtility(ISecretBox).decrypt(stored_secret) == CLIENT_SECRET
    visitor = browser_on(production)
    assert not bitbucket_buttons(visitor.get("/login"))

    # The production editor reviews the draft, previews it and saves it; the import is
    # in the audit log.
    editor = editor_on(production)
    audit = editor.get("/editor/system-pages/login/audit", {"action": "import"})
    assert "bitbucket" in audit.html.select_one("tbody tr").get_text(" ")
    form = settings_form(editor)
    assert form["bitbucket.client_id"].value == CLIENT_ID
    assert form["bitbucket.allowed_workspaces"].value == "acme beta"
    assert bitbucket_buttons(editor.get("/editor/system-pages/login/preview"))
    form.submit("action", value="save").follow()
    assert bitbucket_buttons(visitor.get("/login"))

    # And the imported secret works at Bitbucket (Ada is in workspace "acme").
    member = bitbucket.add_user("Ada Member", nickname="adamember", workspaces=["acme"])
    back = visitor.get(callback_path(bitbucket.approve(start_login(visitor), user=member)))
    assert "Signed in as" in back.follow().text


def test_import_without_secrets_keeps_the_current_drafts_secret(
        staged, staging_ini, production, production_ini, tmp_path):
    editor = editor_on(production)
    fill_bitbucket(editor, "apply", client_id="prodKey0987654321", enabled=False)
    secret_before = stage_of(production, DRAFT).document["bitbucket"]["secrets"]
    data = export_from_staging(staging_ini)
    status, stdout, stderr = import_into(production_ini, tmp_path, data)
    assert status == 0, stderr
    assert "Secrets kept from the current draft: bitbucket.client_secret" in stdout
    draft = stage_of(production, DRAFT)
    assert draft.version == 2
    assert draft.document["bitbucket"]["secrets"] == secret_before
    assert draft.document["bitbucket"]["values"]["client_id"] == CLIENT_ID
    assert draft.document["bitbucket"]["enabled"] is True


def test_import_without_secrets_on_a_new_site_warns_what_to_type(
        staged, staging_ini, production, production_ini, tmp_path):
    status, stdout, stderr = import_into(production_ini, tmp_path,
                                         export_from_staging(staging_ini))
    assert status == 0, stderr
    assert "Warning: bitbucket: Bitbucket Client Secret not set" in stdout
    assert stage_of(production, DRAFT).document["bitbucket"]["secrets"] == {}


def test_secrets_encrypted_for_another_key_are_refused(
        staged, staging_ini, production, production_ini, tmp_path, monkeypatch):
    monkeypatch.setenv("WRONG_KEY", OTHER_KEY)
    data = export_from_staging(staging_ini, "--with-secrets-for-key-env", "WRONG_KEY")
    status, stdout, stderr = import_into(production_ini, tmp_path, data)
    assert status == 2 and stdout == ""
    assert "encrypted for another site's key" in stderr
    assert stage_of(production, DRAFT) is None


def test_unknown_providers_are_reported_and_skipped(
        staged, staging_ini, production, production_ini, tmp_path):
    data = export_from_staging(staging_ini)
    data["providers"]["myspace"] = {"enabled": True, "position": 0, "link_by_email": False,
                                    "values": {"client_id": "x"}}
    data["providers"]["bitbucket"]["values"]["shoe_size"] = "44"
    status, stdout, stderr = import_into(production_ini, tmp_path, data)
    assert status == 0, stderr
    assert "Skipped (not installed on this site): myspace" in stdout
    assert "Unknown fields ignored: bitbucket.shoe_size" in stdout
    document = stage_of(production, DRAFT).document
    assert "myspace" not in document
    assert "shoe_size" not in document["bitbucket"]["values"]


def _with(data: dict, path: tuple, value) -> str:
    data = json.loads(json.dumps(data))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)


BAD_FILES = {
    "not JSON": (lambda d: "{this is not json", "the file is not JSON"),
    "not an export": (lambda d: json.dumps({"hello": "world"}),
                      "is not a cms_social_login.settings export"),
    "format version": (lambda d: _with(d, ("format_version",), 2),
                       "unsupported format version 2"),
    "unknown stage": (lambda d: _with(d, ("stage",), "live"), "unknown stage 'live'"),
    "position": (lambda d: _with(d, ("providers", "bitbucket", "position"), 500),
                 "bitbucket.position: must be a whole number from 0 to 99"),
    "enabled": (lambda d: _with(d, ("providers", "bitbucket", "enabled"), "yes"),
                "bitbucket.enabled: must be true or false"),
    "client id": (lambda d: _with(d, ("providers", "bitbucket", "values", "client_id"),
                                  "not a key!"),
                  "bitbucket.client_id: Paste the key exactly as shown"),
    "workspace": (lambda d: _with(d, ("providers", "bitbucket", "values",
                                      "allowed_workspaces"), "Acme Corp"),
                  "bitbucket.allowed_workspaces: Type workspace IDs"),
    "secrets": (lambda d: _with(d, ("providers", "bitbucket", "secrets"), ["x"]),
                "bitbucket.secrets: must map field names to encrypted strings"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_is_refused_with_exit_status_2_and_nothing_stored(
        case, staged, staging_ini, production, production_ini, tmp_path):
    editor = editor_on(production)
    fill_bitbucket(editor, "apply", client_id="prodKey0987654321")
    before = stage_of(production, DRAFT)
    make, message = BAD_FILES[case]
    status, stdout, stderr = import_into(production_ini, tmp_path,
                                         make(export_from_staging(staging_ini)))
    assert status == 2 and stdout == ""
    assert message in stderr
    assert "Traceback" not in stderr
    after = stage_of(production, DRAFT)
    assert (after.version, after.document) == (before.version, before.document)


def test_a_missing_file_is_bad_input(production_ini, tmp_path):
    status, _, stderr = settings_command("import", production_ini, str(tmp_path / "nope.json"))
    assert status == 2 and "cannot read" in stderr


def test_import_reads_standard_input(staged, staging_ini, production, production_ini):
    text = json.dumps(export_from_staging(staging_ini))
    status, stdout, stderr = settings_command("import", production_ini, "-", stdin=text)
    assert status == 0, stderr
    assert stage_of(production, DRAFT).document["bitbucket"]["values"]["client_id"] \
        == CLIENT_ID


def test_an_editor_applying_during_an_import_wins_and_nothing_is_imported(
        staged, staging_ini, production, production_ini, tmp_path):
    """The import reads the draft, an editor applies, the import's write is refused."""
    editor = editor_on(production)
    fill_bitbucket(editor, "apply", client_id="prodKey0987654321")
    data = settings_transfer.parse_export(json.dumps(export_from_staging(staging_ini)))
    env = bootstrap(production_ini)
    try:
        request = env["request"]
        with pytest.raises(settings_transfer.ImportConflict), request.tm:
            plan = settings_transfer.plan_import(request, data)
            # Meanwhile, in the dialog:
            fill_bitbucket(editor, "apply", client_id="editorWins1234567")
            settings_transfer.store_import(request, plan)
    finally:
        env["closer"]()
        get_social_login_engine(env["registry"]).dispose()
    draft = stage_of(production, DRAFT)
    assert draft.version == 2
    assert draft.document["bitbucket"]["values"]["client_id"] == "editorWins1234567"


# --------------------------------------------------------------------------- console script


def console_script() -> str | None:
    name = "cms-social-login-settings"
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def test_the_installed_console_script(staged, staging_ini, production, production_ini,
                                      tmp_path):
    script = console_script()
    if script is None:
        message = "cms-social-login-settings is not installed: pip install -e ."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "from-staging.json"
    exported = subprocess.run([script, "export", staging_ini, "-o", str(out)],
                              capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())["providers"]["bitbucket"]["enabled"] is True
    imported = subprocess.run([script, "import", production_ini, str(out)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert "as the draft" in imported.stdout
    bad = subprocess.run([script, "import", production_ini, str(staging_ini)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "the file is not JSON" in bad.stderr
    # The console shows the command's words only: no warnings of the libraries, no log
    # lines of the site's start (Alembic) and no JSON audit lines (the import wrote one).
    for done in (exported, imported, bad):
        console = done.stdout + done.stderr
        for noise in ("DeprecationWarning", "UserWarning", "pkg_resources", "INFO"):
            assert noise not in console, console
        assert not [line for line in console.splitlines() if line.lstrip().startswith("{")]
    short = subprocess.run([script, "export", staging_ini, "--with-secrets-for-key-env",
                            "SHORT_KEY"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "SHORT_KEY": "short"})
    assert short.returncode == 2 and short.stdout == ""
    assert short.stderr == (
        "cms-social-login-settings: error: the key in SHORT_KEY has 5 characters; a site's "
        "cms_social_login.secret_key has at least 32, so it cannot be the target site's "
        "key. Nothing was exported\n")
    assert stage_of(production, DRAFT).document["bitbucket"]["values"]["client_id"] \
        == CLIENT_ID

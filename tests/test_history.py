"""Publish history: every Save is a version; compare one with the live settings, restore it
into the draft or publish it again, without losing a draft silently."""

from __future__ import annotations

from .helpers import CLIENT_SECRET, bitbucket_buttons, settings_form, submit_bitbucket

HISTORY = "/editor/system-pages/login/history"


def publish_two_versions(editor):
    submit_bitbucket(editor, "save", client_id="first-key-1234").follow()
    submit_bitbucket(editor, "save", client_id="second-key-5678",
                     client_secret="another-secret-value").follow()


def test_every_save_is_listed_with_what_changed(editor):
    publish_two_versions(editor)
    page = editor.get(HISTORY)
    rows = page.html.select("tbody tr")
    assert [r.find("td").get_text(" ", strip=True) for r in rows] == ["2 Live", "1"]
    newest = rows[0].get_text(" ", strip=True)
    assert "Bitbucket: Bitbucket Client ID" in newest
    assert "Bitbucket: Bitbucket Client Secret (changed)" in newest
    assert "Demo Editor" in newest
    assert "Bitbucket: Enabled" in rows[1].get_text(" ", strip=True)
    assert CLIENT_SECRET not in page.text and "another-secret-value" not in page.text


def diff_rows(page) -> list[list[str]]:
    """The comparison table's rows: provider, setting, then one cell per document."""
    return [[td.get_text(" ", strip=True) for td in row.find_all("td")]
            for row in page.html.select("table.diff-table tbody tr")]


def test_a_version_beside_the_live_one_shows_only_what_differs(editor):
    publish_two_versions(editor)
    page = editor.get(f"{HISTORY}/1")
    headers = [th.get_text(strip=True) for th in page.html.select("table.diff-table th")]
    assert headers == ["Provider", "Setting", "Version 1", "Live now"]  # no draft changes
    rows = diff_rows(page)
    assert [row[1] for row in rows] == ["Bitbucket Client ID", "Bitbucket Client Secret"]
    assert rows[0][2:] == ["first-key-1234", "second-key-5678 differs"]
    assert rows[1][2:] == ["set", "changed differs"]
    assert CLIENT_SECRET not in page.text and "another-secret-value" not in page.text
    # Providers nobody ever set up are not listed at all.
    assert "GitHub" not in page.html.select_one("table.diff-table").get_text()


def test_show_all_settings_is_a_plain_link(editor):
    publish_two_versions(editor)
    link = editor.get(f"{HISTORY}/1").html.find("a", string="Show all settings")
    every = editor.get(link["href"])
    labels = [row[1] for row in diff_rows(every)]
    assert labels[:3] == ["Enabled", "Button order", "Link by confirmed email"]
    assert {"Bitbucket Client ID", "Bitbucket Client Secret"} <= set(labels)
    assert ["yes", "yes"] == diff_rows(every)[0][2:]
    assert every.html.find("a", string="Show only the differences")


def test_a_version_beside_the_draft_and_the_live_settings(editor):
    publish_two_versions(editor)
    submit_bitbucket(editor, "apply", client_id="draft-key-9999", enabled=False).follow()
    page = editor.get(f"{HISTORY}/2")
    headers = [th.get_text(strip=True) for th in page.html.select("table.diff-table th")]
    assert headers == ["Provider", "Setting", "Version 2", "Draft", "Live now"]
    rows = {row[1]: row[2:] for row in diff_rows(page)}
    assert rows == {"Enabled": ["yes", "no differs", "yes"],
                    "Bitbucket Client ID": ["second-key-5678", "draft-key-9999 differs",
                                            "second-key-5678"],
                    "Bitbucket Client Secret": ["set", "changed differs", "set"]}


def test_a_version_equal_to_everything_says_so(editor):
    publish_two_versions(editor)
    page = editor.get(f"{HISTORY}/2")
    assert diff_rows(page) == []
    assert "the same settings as the draft and the live login page" in page.text


def test_restore_into_the_draft_leaves_the_live_site_alone(editor, visitor):
    publish_two_versions(editor)
    page = editor.get(f"{HISTORY}/1").forms[0].submit("action", value="restore").follow()
    assert "Version 1 restored into the draft" in page.text
    assert settings_form(editor)["bitbucket.client_id"].value == "first-key-1234"
    assert "second-key-5678" in visitor.get("/login/bitbucket").location


def test_publish_an_old_version_in_one_step(editor, visitor):
    publish_two_versions(editor)
    page = editor.get(f"{HISTORY}/1").forms[0].submit("action", value="publish-version")
    assert "Published version 1 again." in page.follow().text
    assert "client_id=first-key-1234" in visitor.get("/login/bitbucket").location
    # The old secret came back with it; the history says what happened in words.
    newest = editor.get(HISTORY).html.select("tbody tr")[0]
    assert newest.find("td").get_text(strip=True) == "3Live"
    assert newest.select_one(".republished").get_text(strip=True) \
        == "Published version 1 again"


def test_restoring_over_an_unpublished_draft_needs_a_confirmation(editor):
    publish_two_versions(editor)
    submit_bitbucket(editor, "apply", client_id="unpublished-draft-key").follow()
    page = editor.get(f"{HISTORY}/1")
    # The confirmation sits with the two buttons it guards.
    buttons = page.html.select_one(".restore-buttons")
    assert buttons.find(id="confirm-replace-draft") is not None
    assert {b["value"] for b in buttons.find_all("button")} == {"restore", "publish-version"}
    form = page.forms[0]
    refused = form.submit("action", value="restore", status=409)
    assert "The draft has changes that are not published" in refused.text
    assert settings_form(editor)["bitbucket.client_id"].value == "unpublished-draft-key"
    form = refused.forms[0]
    form["confirm_replace_draft"] = True
    form.submit("action", value="restore").follow()
    assert settings_form(editor)["bitbucket.client_id"].value == "first-key-1234"


def test_unknown_versions(editor):
    publish_two_versions(editor)
    for version in ("99", "0", "abc", "-1", "1" * 20):
        editor.get(f"{HISTORY}/{version}", status=404)
    token = settings_form(editor)["csrf_token"].value
    editor.post(f"{HISTORY}/99", {"csrf_token": token, "action": "restore",
                                  "draft_version": "2"}, status=404)
    editor.post(f"{HISTORY}/1", {"csrf_token": token, "action": "delete",
                                 "draft_version": "2"}, status=400)


def test_restoring_a_version_whose_provider_is_gone(app, editor, visitor):
    publish_two_versions(editor)
    from sqlalchemy import select

    from cms_social_login.models import PublishRecord

    from .security.helpers import dbsession_of

    with dbsession_of(app) as db:
        record = db.scalar(select(PublishRecord).where(PublishRecord.version == 1))
        record.document = {**record.document, "retired": {"enabled": True, "values": {},
                                                          "secrets": {}}}
        db.commit()
    page = editor.get(f"{HISTORY}/1")
    assert "retired, which is not installed" in page.text
    assert "retired (not installed)" in page.text
    done = page.forms[0].submit("action", value="publish-version").follow()
    assert "Settings for retired were kept but stay inactive" in done.text
    assert bitbucket_buttons(visitor.get("/login"))
    assert "not available" in visitor.get("/login/retired", status=404).text


def test_a_long_history_is_listed_twenty_saves_a_page(editor):
    submit_bitbucket(editor, "save", client_id="key-number-0001").follow()
    for number in range(2, 23):
        submit_bitbucket(editor, "save", client_id=f"key-number-{number:04}").follow()
    # Version 23 publishes version 1 again: found on the next page.
    editor.get(f"{HISTORY}/1").forms[0].submit("action", value="publish-version").follow()
    first = editor.get(HISTORY)
    rows = first.html.select("tbody tr")
    assert [r.find("td").get_text(" ", strip=True) for r in rows] == \
        ["23 Live"] + [str(version) for version in range(22, 3, -1)]
    assert rows[0].select_one(".republished").get_text(strip=True) \
        == "Published version 1 again"
    assert "Bitbucket: Bitbucket Client ID" in rows[1].get_text(" ", strip=True)
    pager = first.html.select_one("nav.pager")
    assert [a.get_text(strip=True) for a in pager.select("a")] == ["Older"]
    second = first.click("Older")
    assert [r.find("td").get_text(" ", strip=True)
            for r in second.html.select("tbody tr")] == ["3", "2", "1"]
    assert "Bitbucket: Enabled" in second.html.select("tbody tr")[-1].get_text(" ", strip=True)
    assert [a.get_text(strip=True) for a in second.html.select("nav.pager a")] == ["Newer"]
    assert editor.get(f"{HISTORY}?page=x").html.select("tbody tr")[0].find("td") \
        .get_text(" ", strip=True) == "23 Live"

"""Each tab speaks its provider's language: a numbered setup guide with the exact callback
URL and the permissions at the step where they are needed, and no Bitbucket words
("consumer") anywhere but in the Bitbucket tab."""

from __future__ import annotations

import pytest

SETTINGS = "/editor/system-pages/login/settings"

#: Per tab: a word of the step that names the permissions (scopes) to give.
PERMISSIONS = {"bitbucket": "Account: Read", "github": "read:user", "gitlab": "read_user",
               "oidc": "openid, email and profile"}


@pytest.mark.parametrize("name", sorted(PERMISSIONS))
def test_each_tab_has_a_numbered_guide_with_the_callback_url(editor, name):
    page = editor.get(SETTINGS, {"tab": name})
    panel = page.html.find(id=f"panel-{name}")
    steps = [li.get_text(" ", strip=True) for li in panel.select("ol.setup-steps > li")]
    assert len(steps) >= 3
    callback = f"http://localhost/login/{name}/callback"
    with_url = [i for i, step in enumerate(steps) if callback in step]
    with_permissions = [i for i, step in enumerate(steps) if PERMISSIONS[name] in step]
    assert with_url and with_permissions, steps
    # The address is registered first, the permissions come with or after it.
    assert with_url[0] <= with_permissions[0]


@pytest.mark.parametrize("name", ["github", "gitlab", "oidc"])
def test_no_bitbucket_words_on_other_tabs(editor, name):
    panel = editor.get(SETTINGS, {"tab": name}).html.find(id=f"panel-{name}")
    assert "consumer" not in panel.get_text(" ").lower()


def test_the_bitbucket_tab_says_key_and_consumer(editor):
    panel = editor.get(SETTINGS).html.find(id="panel-bitbucket")
    assert "The Key of your Bitbucket OAuth consumer." in panel.get_text(" ")

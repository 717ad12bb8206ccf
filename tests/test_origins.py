"""One origin helper serves the logs, the identity issuers and the same-site checks."""

from cms_social_login.origins import url_origin


def test_an_origin_is_scheme_host_and_a_port_that_is_not_the_default():
    assert url_origin("https://api.bitbucket.org/2.0") == "https://api.bitbucket.org"
    assert url_origin("HTTPS://API.Example.COM:443/x?y#z") == "https://api.example.com"
    assert url_origin("http://127.0.0.1:8080/path") == "http://127.0.0.1:8080"
    assert url_origin("http://[::1]:80/") == "http://[::1]"


def test_credentials_never_reach_an_origin():
    assert url_origin("https://user:secret@sso.example.com/realms/x") == \
        "https://sso.example.com"


def test_an_unusable_url_has_no_origin():
    for url in ("", "null", "/relative/path", "https://[::1/", "http://host:notaport/"):
        assert url_origin(url) == ""

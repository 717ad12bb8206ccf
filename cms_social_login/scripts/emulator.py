"""``cms-social-login-emulator``: a provider's emulator next to a ``pserve``d site.

Try the add-on without registering a real OAuth consumer::

    cms-social-login-emulator --provider bitbucket --port 8765

It serves the shipped emulator of the provider on 127.0.0.1, registers a client for the
site's callback URL and a signed-in test account, and prints what to give the site: the
URL settings (ini lines, or environment variables for ``pserve development.ini``) and the
client ID and secret to paste into the provider's tab. Ctrl+C stops it.

The provider's URL settings are the deployment's, shared by all the sites it serves; so
for several sites (README, "Many sites") one emulator registers one client per site:
``--site http://site-a.localhost:6543 --site http://site-b.localhost:6543`` prints a
Client ID and secret for each site's tab (``emulator-client-id-1``, ``-2``, ...).

Emulators are found in the entry point group ``cms_social_login.emulators``: each names a
provider and points to an :class:`EmulatorRecipe`. The shipped ones are ``bitbucket``,
``github``, ``gitlab`` and ``oidc``; a provider package adds its own the same way.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from ..settings import PREFIX, env_name

__all__ = ["EMULATOR_GROUP", "EmulatorRecipe", "main"]

#: Entry point group of emulators: name = the provider's name, value = an EmulatorRecipe.
EMULATOR_GROUP = "cms_social_login.emulators"
#: Printed once everything above it is printed and the emulator serves.
READY = "Ready. Ctrl+C stops the emulator."
#: The setting that lets the site call an emulator on 127.0.0.1 (refused by default).
ALLOW_PRIVATE = f"{PREFIX}allow_private_provider_urls"


def url_settings(emulator: Any, provider_name: str) -> dict[str, str]:
    """The three endpoint settings every OAuth 2.0 provider of the add-on reads."""
    return {f"{PREFIX}{provider_name}.{key}": getattr(emulator, key)
            for key in ("authorize_url", "token_url", "api_url")}


@dataclass(frozen=True)
class EmulatorRecipe:
    """How to run one provider's emulator for a site.

    ``emulator`` makes the (unstarted) emulator; ``make_user`` adds the test account;
    ``site_settings(emulator, provider_name)`` are the settings pointing the site at it
    (default: :func:`url_settings`); ``tab_values(emulator)`` are the values to type in
    the tab besides the client ID and secret, by field label.
    """

    title: str
    emulator: Callable[[], Any]
    make_user: Callable[[Any], Any]
    site_settings: Callable[[Any, str], Mapping[str, str]] = url_settings
    tab_values: Callable[[Any], Mapping[str, str]] = field(default=lambda emulator: {})


def _bitbucket() -> Any:
    from ..testing.bitbucket_emulator import BitbucketEmulator

    return BitbucketEmulator()


def _github() -> Any:
    from ..testing.github_emulator import GitHubEmulator

    return GitHubEmulator()


def _gitlab() -> Any:
    from ..testing.gitlab_emulator import GitLabEmulator

    return GitLabEmulator()


def _oidc() -> Any:
    from ..testing.oidc_emulator import OIDCEmulator

    return OIDCEmulator()


BITBUCKET = EmulatorRecipe(
    "Bitbucket", _bitbucket,
    lambda emulator: emulator.add_user("Test Visitor", nickname="visitor",
                                       emails=["visitor@example.org"]))
GITHUB = EmulatorRecipe(
    "GitHub", _github,
    lambda emulator: emulator.add_user("visitor", name="Test Visitor",
                                       emails=["visitor@example.org"]))
GITLAB = EmulatorRecipe(
    "GitLab", _gitlab,
    lambda emulator: emulator.add_user("Test Visitor", username="visitor"))
OIDC = EmulatorRecipe(
    "OpenID Connect", _oidc,
    lambda emulator: emulator.add_user("Test Visitor", "visitor@example.org",
                                       preferred_username="visitor"),
    site_settings=lambda emulator, name: {},
    tab_values=lambda emulator: {"Issuer URL": emulator.issuer})


def installed_recipes() -> dict[str, EmulatorRecipe]:
    """The emulators installed, by provider name."""
    return {entry_point.name: entry_point.load()
            for entry_point in entry_points(group=EMULATOR_GROUP)}


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cms-social-login-emulator",
        description="Serve a provider's emulator on 127.0.0.1 and print the settings that "
                    "point a site at it.")
    parser.add_argument("--provider", default="bitbucket", choices=sorted(names),
                        help="the provider to emulate (default: bitbucket)")
    parser.add_argument("--port", type=int, default=0,
                        help="the port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--site", action="append", default=None,
                        help="the site's address, for the callback URL "
                             "(default: http://localhost:6543); give it once per site "
                             "to register a client for each")
    parser.add_argument("--client-id", default="emulator-client-id",
                        help="the client ID to register (default: emulator-client-id; "
                             "with several --site, numbered: emulator-client-id-1, ...)")
    parser.add_argument("--client-secret", default=None,
                        help="the client secret to register (default: a random one)")
    return parser


@dataclass(frozen=True)
class SiteClient:
    """The client registered for one site: its callback URL and credentials."""

    site: str
    callback: str
    client_id: str
    client_secret: str


def site_clients(provider_name: str, sites: Sequence[str], client_id: str,
                 client_secret: str | None) -> list[SiteClient]:
    """One client per site (in the order given); several sites get numbered client IDs
    and a secret each, so no site's tab can be pasted into another's."""
    clients = []
    for number, site in enumerate(sites, start=1):
        site = site.rstrip("/")
        clients.append(SiteClient(
            site=site, callback=f"{site}/login/{provider_name}/callback",
            client_id=client_id if len(sites) == 1 else f"{client_id}-{number}",
            client_secret=client_secret or secrets.token_urlsafe(24)))
    return clients


def _describe(recipe: EmulatorRecipe, emulator: Any, name: str,
              clients: Sequence[SiteClient], user: Any) -> str:
    # The emulator is on loopback, which the site refuses to call unless told to.
    settings = {**recipe.site_settings(emulator, name), ALLOW_PRIVATE: "true"}
    lines = [f"{recipe.title} emulator serving on {emulator.base_url}", ""]
    if settings:
        lines += ["Settings for the site's ini file ([app:main]):"]
        lines += [f"    {key} = {value}" for key, value in settings.items()]
        lines += ["", "or the same as environment variables, e.g. before pserve development.ini:"]
        lines += [f"    export {env_name(key)}={value}" for key, value in settings.items()]
        lines += [""]
    for client in clients:
        where = "" if len(clients) == 1 else f" of {client.site}"
        lines += [f"In the editor's {recipe.title} tab{where} (callback URL {client.callback}):"]
        values = {f"{recipe.title} Client ID": client.client_id,
                  f"{recipe.title} Client Secret": client.client_secret,
                  **recipe.tab_values(emulator)}
        lines += [f"    {label}: {value}" for label, value in values.items()]
    lines += ["", f"Signed in at the emulator as: {emulator.user_display_name(user)} "
                  "(the consent page's Grant access button signs in at the site)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; the exit status."""
    recipes = installed_recipes()
    args = _parser(list(recipes)).parse_args(argv)
    recipe = recipes[args.provider]
    clients = site_clients(args.provider, args.site or ["http://localhost:6543"],
                           args.client_id, args.client_secret)
    emulator = recipe.emulator()
    try:
        emulator.start(port=args.port)
    except OSError as exc:
        print(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for client in clients:
            emulator.add_client(client.client_id, client.client_secret,
                                callback_url=client.callback)
        user = recipe.make_user(emulator)
        emulator.current_user = user
        print(_describe(recipe, emulator, args.provider, clients, user), flush=True)
        print(f"\n{READY}", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":  # python -m cms_social_login.scripts.emulator
    sys.exit(main())

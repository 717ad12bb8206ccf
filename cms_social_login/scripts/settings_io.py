"""``cms-social-login-settings``: move the *Login setting* between sites as JSON.

Usage::

    cms-social-login-settings export staging.ini [--stage published|draft] [-o FILE]
                                      [--with-secrets-for-key-env VAR] [--site KEY]
    cms-social-login-settings import production.ini FILE [--site KEY]

``--site KEY`` names the site of a deployment that serves many (see
:mod:`cms_social_login.sites`); without it the command works on the site the host's
resolver gives a request to ``localhost`` (``"default"`` unless the host says otherwise;
a resolver that gives it no site makes the command ask for ``--site``, exit status 2).

``export`` writes one stage of the settings (the published one by default) as JSON;
secrets are left out unless ``--with-secrets-for-key-env VAR`` names an environment
variable that holds the *target* site's ``cms_social_login.secret_key`` (then they are
encrypted for that key only). Secrets are never printed in clear. ``import`` stores the
file as this site's *draft*, in one transaction. What the file holds and how an import
treats it: :mod:`cms_social_login.services.settings_transfer`; this module is the
command line around it.

The console shows the command's result and warnings only (``-v`` logs as the ini file
says). A ``--with-secrets-for-key-env`` key shorter than a secret key may be is refused.

Exit status: 0 done; 1 the site's state prevents it (no such stage yet, a concurrent
change, a stored secret that cannot be decrypted); 2 bad input (usage, unreadable or
invalid file, wrong format version, unknown stage, invalid values, wrong key).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..models import PUBLISHED, get_social_login_engine
from ..services.settings_transfer import (
    STAGES,
    BadExport,
    ImportConflict,
    SiteStateError,
    export_settings,
    parse_export,
    plan_import,
    store_import,
)
from ..settings import MIN_SECRET_KEY_LENGTH
from ..sites import use_site
from .console import configure_logging

__all__ = ["main"]

PROG = "cms-social-login-settings"
#: Export files larger than this are refused unread.
MAX_FILE_BYTES = 1_000_000


SITE_HELP = ("the site's key, on a deployment that serves many sites (default: the site "
             "of a request to localhost, normally 'default')")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Export the login settings of a site to JSON, or import "
                               "such a file as a site's draft.",
        epilog="Exit status: 0 done, 1 the site's state prevents it, 2 bad input.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the settings of a stage as JSON")
    export.add_argument("config_uri", help="the site's ini file, e.g. staging.ini")
    export.add_argument("--stage", choices=STAGES, default=PUBLISHED,
                        help="which settings to export (default: published)")
    export.add_argument("--with-secrets-for-key-env", metavar="VAR", dest="key_env",
                        help="include the secrets, encrypted for the target site's "
                             "secret key held in the environment variable VAR")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (created readable by its owner only) "
                             "instead of standard output")
    export.add_argument("--app", default="main", help="the [app:NAME] section (main)")
    export.add_argument("--site", metavar="KEY", help=SITE_HELP)
    export.add_argument("-v", "--verbose", action="store_true",
                        help="log as the ini file configures (default: warnings only)")
    imp = commands.add_parser("import", help="store a JSON export as the draft")
    imp.add_argument("config_uri", help="the site's ini file, e.g. production.ini")
    imp.add_argument("file", help="the export file (- for standard input)")
    imp.add_argument("--app", default="main", help="the [app:NAME] section (main)")
    imp.add_argument("--site", metavar="KEY", help=SITE_HELP)
    imp.add_argument("-v", "--verbose", action="store_true",
                     help="log as the ini file configures (default: warnings only)")
    return parser


@contextlib.contextmanager
def _site(config_uri: str, app: str, verbose: bool = False, site: str | None = None):
    """The site of ``config_uri`` (its start-up output on stderr); yields a request (of
    the site ``site`` when given)."""
    from pyramid.paster import bootstrap

    configure_logging(config_uri, verbose)
    uri = config_uri if "#" in config_uri else f"{config_uri}#{app}"
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON
        env = bootstrap(uri)
    try:
        if site is not None:
            try:
                use_site(env["request"], site)
            except ValueError as exc:
                raise BadExport(f"--site: {exc}") from None
        else:
            try:
                env["request"].social_login_site  # noqa: B018 (the host's resolver answers)
            except HTTPNotFound:
                raise BadExport(f"the site resolver gives no site to a request to "
                                f"{env['request'].host_url}: name one with --site KEY"
                                ) from None
        yield env["request"]
    finally:
        env["closer"]()
        with contextlib.suppress(LookupError):  # a host session without a factory
            get_social_login_engine(env["registry"]).dispose()


def _read_input(path: str, stdin: TextIO) -> str:
    try:
        if path == "-":
            text = stdin.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadExport(f"cannot read {path}: {exc}") from None
    if len(text) > MAX_FILE_BYTES:
        raise BadExport(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return text


def _write_output(path: str | None, text: str, stdout: TextIO) -> None:
    if path in (None, "-"):
        stdout.write(text)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise BadExport(f"cannot write {path}: {exc}") from None


def _export(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    target_key = None
    if args.key_env:
        target_key = os.environ.get(args.key_env, "").strip()
        if not target_key:
            raise BadExport(f"the environment variable {args.key_env} is not set or empty: "
                            "it must hold the target site's cms_social_login.secret_key")
        if len(target_key) < MIN_SECRET_KEY_LENGTH:
            raise BadExport(f"the key in {args.key_env} has {len(target_key)} characters; a "
                            f"site's cms_social_login.secret_key has at least "
                            f"{MIN_SECRET_KEY_LENGTH}, so it cannot be the target site's key. "
                            "Nothing was exported")
    with _site(args.config_uri, args.app, args.verbose, args.site) as request, request.tm:
        document = export_settings(request, args.stage, target_key)
    _write_output(args.output, json.dumps(document, indent=2, sort_keys=True) + "\n", stdout)
    omitted = [f"{name}.{key}" for name, part in document["providers"].items()
               for key in part.get("secret_fields_omitted", ())]
    where = args.output if args.output not in (None, "-") else "standard output"
    print(f"Exported the {args.stage} login settings (version {document['version']}, "
          f"{len(document['providers'])} provider(s)) to {where}.", file=stderr)
    if target_key:
        print("Secrets are encrypted for the target site's key.", file=stderr)
    elif omitted:
        print(f"Secrets omitted: {', '.join(omitted)}.", file=stderr)
    return 0


def _import(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    data = parse_export(_read_input(args.file, stdin))
    try:
        with _site(args.config_uri, args.app, args.verbose, args.site) as request, request.tm:
            plan = plan_import(request, data)
            version = store_import(request, plan)
    except (StaleDataError, IntegrityError) as exc:  # at the commit
        raise ImportConflict("the draft was changed by someone else during the import; "
                             "nothing was stored. Run the import again") from exc
    lines = [f"Imported {args.file} ({data['stage']} settings, version {data['version']!r}) "
             f"as the draft, version {version}. Nothing is published: review it in the "
             "Login setting dialog, then Save."]
    if plan.imported:
        lines.append(f"Imported providers: {', '.join(plan.imported)}.")
    if plan.skipped:
        lines.append(f"Skipped (not installed on this site): {', '.join(plan.skipped)}.")
    if plan.untouched:
        lines.append(f"Not in the file, left as they were: {', '.join(plan.untouched)}.")
    if plan.kept_secrets:
        lines.append(f"Secrets kept from the current draft: {', '.join(plan.kept_secrets)}.")
    if plan.ignored_fields:
        lines.append(f"Unknown fields ignored: {', '.join(plan.ignored_fields)}.")
    lines.extend(f"Warning: {warning}." for warning in plan.warnings)
    print("\n".join(lines), file=stdout)
    return 0


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command with ``argv`` (default: the process's); the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors: argparse printed them
        return int(exc.code or 0)
    try:
        if args.command == "export":
            return _export(args, stdout, stderr)
        return _import(args, stdin, stdout)
    except BadExport as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return 2
    except SiteStateError as exc:
        print(f"{PROG}: {exc}", file=stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Moving the *Login setting* between sites: the export document and its import as a draft.

An export holds one stage of a site's settings (the published one by default): per
provider ``enabled``, ``position``, ``link_by_email`` and the field ``values``. Secrets
(client secrets) are left out and named under ``secret_fields_omitted``, unless the
*target* site's ``cms_social_login.secret_key`` is given: then they are decrypted here
and encrypted again for that key only (Fernet, with a key derived for this purpose,
:data:`EXPORT_PURPOSE`), so the file is useless without the target's key.

An import stores the file as the site's *draft* (never published: an editor reviews it
in the *Login setting* dialog, Preview, then Save). A secret the file leaves out is kept
from the current draft; secrets encrypted for another key are refused. Providers the
site does not have are reported and skipped; providers the file does not name keep their
draft as it is. The draft is written in the caller's transaction and refused
(:class:`ImportConflict`) when an editor changed it meanwhile.

The command line is :mod:`cms_social_login.scripts.settings_io`
(``cms-social-login-settings``); every function here runs inside the caller's request
and transaction.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..crypto import FernetSecretBox, SecretDecryptionError
from ..i18n import english
from ..interfaces import ISecretBox
from ..models import DRAFT, PUBLISHED
from ..providers.base import FieldError, Provider
from ..providers.registry import get_provider_registry
from ..sites import site_key
from . import audit
from .login_settings import (
    MAX_POSITION,
    LoginSettingsService,
    ProviderConfig,
    SettingsForm,
    VersionConflict,
    changed_endpoint,
    drop_stale_secrets,
    read_stage,
)

__all__ = [
    "EXPORT_PURPOSE",
    "FORMAT",
    "FORMAT_VERSION",
    "IMPORT_USER",
    "STAGES",
    "BadExport",
    "ImportConflict",
    "ImportPlan",
    "SiteStateError",
    "export_box",
    "export_settings",
    "parse_export",
    "plan_import",
    "store_import",
]

#: The ``format`` marker of an export file.
FORMAT = "cms_social_login.settings"
#: The version of the file format this code writes and reads.
FORMAT_VERSION = 1
#: The HKDF purpose of the key that encrypts secrets inside an export file (never the
#: key of secrets at rest: a file's secrets cannot be pasted into a database).
EXPORT_PURPOSE = "settings export"
#: Who the draft's ``updated_by`` names after an import.
IMPORT_USER = "import (cms-social-login-settings)"
STAGES = (PUBLISHED, DRAFT)


class BadExport(ValueError):
    """The input is not a usable export (exit status 2); the message says why."""


class SiteStateError(RuntimeError):
    """The site's state prevents the command (exit status 1)."""


class ImportConflict(SiteStateError):
    """The draft changed while the import was running; nothing was stored."""


def export_box(secret_key: str) -> FernetSecretBox:
    """The box that encrypts secrets in an export file meant for the site of ``secret_key``."""
    return FernetSecretBox(secret_key, purpose=EXPORT_PURPOSE)


def _now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- export


def export_settings(request: Any, stage: str = PUBLISHED, target_key: str | None = None
                    ) -> dict[str, Any]:
    """The export document of ``stage`` (JSON-ready).

    Without ``target_key`` secrets are omitted (listed per provider as
    ``secret_fields_omitted``); with it they are encrypted for that key. Runs inside the
    caller's transaction (reads only). SiteStateError when the stage was never stored or
    a stored secret cannot be decrypted.
    """
    if stage not in STAGES:
        raise BadExport(f"unknown stage {stage!r}: use published or draft")
    record = read_stage(request.social_login_dbsession, site_key(request), stage)
    if record is None:
        raise SiteStateError(f"this site ({site_key(request)}) has no {stage} login settings "
                             "yet; nothing to export")
    box: ISecretBox = request.registry.getUtility(ISecretBox)
    target = export_box(target_key) if target_key else None
    providers: dict[str, Any] = {}
    for name in sorted(record.document):
        config = ProviderConfig.from_document(record.document, name)
        part: dict[str, Any] = {"enabled": config.enabled, "position": config.position,
                                "link_by_email": config.link_by_email,
                                "values": dict(config.values)}
        set_secrets = sorted(key for key, token in config.secrets.items() if token)
        if target is None:
            part["secret_fields_omitted"] = set_secrets
        else:
            encrypted = {}
            for key in set_secrets:
                try:
                    plain = box.decrypt(config.secrets[key])
                except SecretDecryptionError as exc:
                    raise SiteStateError(
                        f"the stored secret {name}.{key} cannot be decrypted with this "
                        "site's secret key; type it again in the Login setting dialog"
                    ) from exc
                encrypted[key] = target.encrypt(plain)
            part["secrets"] = encrypted
        providers[name] = part
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "stage": stage,
        "version": record.version,
        "exported_at": _now_iso(),
        "secrets": "omitted" if target is None else "encrypted-for-target-key",
        "providers": providers,
    }


# --------------------------------------------------------------------------- import


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items())


def parse_export(text: str) -> dict[str, Any]:
    """Check the shape of an export file's ``text``; the document, or BadExport."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadExport(f"the file is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadExport(f"the file is not a {FORMAT} export (no \"format\": \"{FORMAT}\")")
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise BadExport(f"unsupported format version {version!r}; this site reads "
                        f"version {FORMAT_VERSION}")
    if data.get("stage") not in STAGES:
        raise BadExport(f"unknown stage {data.get('stage')!r}: expected published or draft")
    providers = data.get("providers")
    if not isinstance(providers, dict):
        raise BadExport("\"providers\" must be an object of provider name -> settings")
    problems = []
    for name, part in providers.items():
        if not isinstance(part, dict):
            problems.append(f"{name}: must be an object")
            continue
        for key in ("enabled", "link_by_email"):
            if not isinstance(part.get(key, False), bool):
                problems.append(f"{name}.{key}: must be true or false")
        position = part.get("position", 0)
        if isinstance(position, bool) or not isinstance(position, int) \
                or not 0 <= position <= MAX_POSITION:
            problems.append(f"{name}.position: must be a whole number from 0 to "
                            f"{MAX_POSITION}")
        if not _is_str_map(part.get("values", {})):
            problems.append(f"{name}.values: must map field names to strings")
        if "secrets" in part and not _is_str_map(part["secrets"]):
            problems.append(f"{name}.secrets: must map field names to encrypted strings")
        omitted = part.get("secret_fields_omitted", [])
        if not isinstance(omitted, list) or not all(isinstance(s, str) for s in omitted):
            problems.append(f"{name}.secret_fields_omitted: must be a list of field names")
    if problems:
        raise BadExport("invalid settings in the file: " + "; ".join(problems))
    return data


@dataclass
class ImportPlan:
    """What an import will store, and what to tell the operator about it."""

    document: dict[str, Any]
    expected_version: int
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    kept_secrets: list[str] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _import_provider(provider: Provider, part: Mapping[str, Any], current: ProviderConfig,
                     file_box: FernetSecretBox, site_box: ISecretBox, plan: ImportPlan,
                     errors: list[str]) -> ProviderConfig:
    name = provider.name
    given_values: Mapping[str, str] = part.get("values", {})
    given_secrets: Mapping[str, str] | None = part.get("secrets")
    known = {f.name for f in provider.fields}
    plan.ignored_fields.extend(f"{name}.{key}" for key in sorted(given_values)
                               if key not in known or provider.field(key).secret)
    if given_secrets is not None:
        plan.ignored_fields.extend(f"{name}.{key}" for key in sorted(given_secrets)
                                   if key not in known or not provider.field(key).secret)
    values: dict[str, str] = {}
    secrets = dict(current.secrets)
    for f in provider.fields:
        if not f.secret:
            try:
                values[f.name] = f.clean(given_values.get(f.name, ""))
            except FieldError as exc:
                errors.append(f"{name}.{f.name}: {exc}")
            continue
        token = (given_secrets or {}).get(f.name)
        if not token:
            if secrets.get(f.name):
                plan.kept_secrets.append(f"{name}.{f.name}")
            continue
        try:
            plain = file_box.decrypt(token)
        except SecretDecryptionError:
            raise BadExport(
                f"the secret {name}.{f.name} in the file cannot be decrypted with this "
                "site's secret key: it was encrypted for another site's key (or changed). "
                "Export again with --with-secrets-for-key-env naming a variable that holds "
                "this site's cms_social_login.secret_key"
            ) from None
        try:
            secrets[f.name] = site_box.encrypt(f.clean(plain))
        except FieldError as exc:
            errors.append(f"{name}.{f.name}: {exc}")
    if not errors:
        errors.extend(f"{name}.{key}: {english(message)}"
                      for key, message in provider.validate(values).items())
    changed = changed_endpoint(provider, current.values, values)
    if changed is not None:
        # Another server: the current secret belongs to the old one and is never sent on.
        part_now = {"secrets": secrets}
        for key in drop_stale_secrets(provider, current, part_now):
            plan.kept_secrets.remove(f"{name}.{key}")
            plan.warnings.append(f"{name}: {changed} changed, so the stored {key} was "
                                 "dropped: type the new server's in the "
                                 f"{provider.title} tab before Save")
    config = ProviderConfig(name=name, enabled=bool(part.get("enabled", False)),
                            position=int(part.get("position", 0)),
                            link_by_email=bool(part.get("link_by_email", False)),
                            values=values, secrets=secrets)
    missing = [f.label for f in provider.fields
               if f.required and not (secrets if f.secret else values).get(f.name)]
    if config.enabled and missing:
        plan.warnings.append(f"{name}: {', '.join(missing)} not set: type it in the "
                             f"{provider.title} tab before Save")
    return config


def plan_import(request: Any, data: Mapping[str, Any]) -> ImportPlan:
    """Check ``data`` (from :func:`parse_export`) against this site; what to store.

    Reads the current draft (the published settings when there is no draft) inside the
    caller's transaction. BadExport when a value is invalid or a secret was encrypted for
    another key.
    """
    service = LoginSettingsService(request)
    current, expected_version = service.editable_document()
    site_box: ISecretBox = request.registry.getUtility(ISecretBox)
    file_box = export_box(request.registry.social_login_settings.secret_key)
    installed = {provider.name: provider for provider in get_provider_registry(request.registry)}
    plan = ImportPlan(document=copy.deepcopy(current), expected_version=expected_version)
    site = site_key(request)
    if all(read_stage(request.social_login_dbsession, site, stage) is None
           for stage in STAGES):  # sites are only keys: a mistyped --site is a new site
        plan.warnings.append(f"the site {site} had no login settings before: this is its "
                             "first draft (check --site if you meant another site)")
    errors: list[str] = []
    for name, part in data["providers"].items():
        provider = installed.get(name)
        if provider is None:
            plan.skipped.append(name)
            continue
        config = _import_provider(provider, part, ProviderConfig.from_document(current, name),
                                  file_box, site_box, plan, errors)
        plan.document[name] = config.to_document()
        plan.imported.append(name)
    if errors:
        raise BadExport("invalid values in the file, nothing was stored: " + "; ".join(errors))
    plan.untouched = sorted(name for name in installed if name not in data["providers"])
    return plan


def store_import(request: Any, plan: ImportPlan, userid: str = IMPORT_USER) -> int:
    """Store ``plan``'s document as the draft; the draft's new version.

    ImportConflict when the draft changed since :func:`plan_import` read it (also when
    the change lands while this transaction writes).
    """
    service = LoginSettingsService(request)
    form = SettingsForm(document=plan.document, values={}, pending={}, errors={})
    try:
        version = service.apply(form, plan.expected_version, userid).version
    except (VersionConflict, StaleDataError, IntegrityError) as exc:
        raise ImportConflict(
            "the draft was changed by someone else during the import; nothing was stored. "
            "Run the import again (it replaces the providers named in the file)") from exc
    audit.record(request, audit.EDITOR, "import", actor=userid, detail={
        "version": version, "imported": plan.imported, "skipped": plan.skipped})
    return version


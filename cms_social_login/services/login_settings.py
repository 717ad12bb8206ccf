"""The *Login setting* document: reading stages, the editor's form, apply and publish."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import PENDING_SECRET, SecretDecryptionError, purpose_box, seal, unseal
from ..i18n import _
from ..interfaces import ISecretBox
from ..models import DRAFT, PUBLISHED, LinkedIdentity, LoginSettings, PublishRecord
from ..models.records import utcnow
from ..providers.base import FieldError, Provider
from ..providers.registry import get_provider_registry
from ..sites import site_key
from .db import flush_or_retry

#: How long a secret typed before OK stays usable in the form (seconds).
PENDING_SECRET_TTL = 3600
#: Form keys that are not provider fields.
FORM_CONTROL_KEYS = frozenset({"csrf_token", "action", "draft_version", "tab"})


#: Per-provider options every tab has, besides the provider's own fields.
#: ``enabled_shown`` is the state the dialog drew the switch in: a switch posted in
#: another state is the editor's explicit choice; ``enabled_choice`` carries a choice
#: made before OK (not stored yet) to the next button.
OPTION_KEYS = ("enabled", "enabled_shown", "enabled_choice", "position", "link_by_email",
               "confirm_server_change")
#: The editor's explicit choice of a provider's switch (absent: never touched).
CHOICE_ON = "on"
CHOICE_OFF = "off"
MAX_POSITION = 99


def _checked(post: Mapping[str, str], key: str) -> bool:
    return post.get(key) in ("on", "true", "1")


def _position(post: Mapping[str, str], key: str, stored: int) -> tuple[int, str | None]:
    """The button order typed in the tab (absent: keep the stored one)."""
    raw = str(post.get(key, "")).strip()
    if not raw:
        return stored, None
    if not (len(raw) <= 2 and raw.isascii() and raw.isdigit()) or int(raw) > MAX_POSITION:
        return stored, _("Button order must be a whole number from 0 to ${max}.",
                         mapping={"max": MAX_POSITION})
    return int(raw), None


class BadSettingsForm(ValueError):
    """The form names unknown providers or fields: a 400, nothing is stored."""


class VersionConflict(Exception):
    """The draft changed since the editor loaded the form."""


@dataclass(frozen=True)
class ProviderConfig:
    """One provider's part of the document."""

    name: str
    enabled: bool = False
    position: int = 0
    #: Sign a first-time provider account into the local account with the same
    #: confirmed email (off by default: it trusts the provider's confirmation).
    link_by_email: bool = False
    values: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    #: :data:`CHOICE_ON` or :data:`CHOICE_OFF` once the editor flipped the switch; None
    #: while they never did (then filling the credentials turns the provider on).
    choice: str | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any], name: str) -> ProviderConfig:
        """The config of ``name`` in ``document`` (an empty one when absent)."""
        part = document.get(name) or {}
        choice = part.get("enabled_choice")
        return cls(name=name, enabled=bool(part.get("enabled")),
                   position=int(part.get("position") or 0),
                   link_by_email=bool(part.get("link_by_email")),
                   values=dict(part.get("values") or {}),
                   secrets=dict(part.get("secrets") or {}),
                   choice=choice if choice in (CHOICE_ON, CHOICE_OFF) else None)

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready form of this config."""
        part: dict[str, Any] = {"enabled": self.enabled, "position": self.position,
                                "link_by_email": self.link_by_email,
                                "values": dict(self.values), "secrets": dict(self.secrets)}
        if self.choice is not None:
            part["enabled_choice"] = self.choice
        return part

    def is_complete(self, provider: Provider) -> bool:
        """Every required field of ``provider`` has a value."""
        return all((self.secrets if f.secret else self.values).get(f.name)
                   for f in provider.fields if f.required)

    def has_any_value(self) -> bool:
        """Some field of the tab holds a value."""
        return any(self.values.values()) or any(self.secrets.values())

    def switch_shown_on(self, provider: Provider) -> bool:
        """Whether the dialog draws the provider's switch on: when it is on, or when the
        editor never touched it and the credentials are still missing (filling them
        will turn it on)."""
        return self.enabled or (self.choice is None and not self.is_complete(provider))

    def set_up_but_hidden(self, provider: Provider) -> bool:
        """Credentials are filled but visitors do not see the button."""
        return self.is_complete(provider) and not self.enabled

    def plain_values(self, provider: Provider, box: ISecretBox) -> dict[str, str]:
        """Values with secrets decrypted, for the provider's calls only."""
        values = dict(self.values)
        for f in provider.fields:
            if f.secret and self.secrets.get(f.name):
                values[f.name] = box.decrypt(self.secrets[f.name])
        return values


@dataclass
class SettingsForm:
    """The editor's form, parsed and checked."""

    document: dict[str, Any]
    values: dict[str, dict[str, str]]
    pending: dict[str, dict[str, str]]
    errors: dict[str, dict[str, str]]

    @property
    def ok(self) -> bool:
        """No field has an error."""
        return not any(self.errors.values())


def read_stage(dbsession: Session, site: str, stage: str) -> LoginSettings | None:
    """The stored record of ``site``'s ``stage`` (draft or published), if any."""
    return dbsession.get(LoginSettings, (site, stage))


def enabled_providers(document: Mapping[str, Any], providers: Iterable[Provider]
                      ) -> list[tuple[Provider, ProviderConfig]]:
    """The providers that ``document`` enables and fully configures, in button order."""
    chosen = []
    for index, provider in enumerate(providers):
        config = ProviderConfig.from_document(document, provider.name)
        if config.enabled and config.is_complete(provider):
            chosen.append((config.position, index, provider, config))
    chosen.sort(key=lambda entry: entry[:2])
    return [(provider, config) for _position, _index, provider, config in chosen]


@dataclass(frozen=True)
class LoginButton:
    """A "Log in with ..." button: the provider's name, the title the editor's values give
    it (an OpenID Connect tab's "Button title", say), and its icon."""

    name: str
    title: str
    icon: str


def login_buttons(document: Mapping[str, Any], providers: Iterable[Provider]
                  ) -> list[LoginButton]:
    """The buttons ``document`` puts on the login page, in order."""
    return [LoginButton(provider.name, provider.display_title(config.values), provider.icon)
            for provider, config in enabled_providers(document, providers)]


def _switch_choice(post: Mapping[str, str], name: str, stored: ProviderConfig,
                   has_values: bool) -> str | None:
    """The editor's choice for the provider's switch after this post.

    The dialog posts the state it drew the switch in (``<name>.enabled_shown``): a
    different posted state is an explicit choice, the same one keeps the stored choice.
    A client that does not send it (a script) chooses with the switch alone, except on
    a tab it leaves empty.
    """
    posted_on = _checked(post, f"{name}.enabled")
    shown = post.get(f"{name}.enabled_shown")
    if shown is None:
        if posted_on:
            return CHOICE_ON
        return CHOICE_OFF if has_values else stored.choice
    if posted_on != (shown == "on"):
        return CHOICE_ON if posted_on else CHOICE_OFF
    carried = post.get(f"{name}.enabled_choice")
    return carried if carried in (CHOICE_ON, CHOICE_OFF) else stored.choice


def pending_binding(provider: Provider, field_name: str, post: Mapping[str, str]
                    ) -> dict[str, str]:
    """What a pending secret is bound to: its provider and field, and the server the
    posted tab points at (``provider.endpoint_fields``); a token made for another of
    them is refused."""
    binding = {"provider": provider.name, "field": field_name}
    for name in provider.endpoint_fields:
        binding[f"endpoint.{name}"] = str(post.get(f"{provider.name}.{name}", "")).strip()
    return binding


def parse_settings_form(post: Mapping[str, str], providers: Iterable[Provider],
                        base: Mapping[str, Any], box: ISecretBox,
                        pending_box: ISecretBox) -> SettingsForm:
    """Check the posted form against each provider's fields.

    ``base`` is the stored draft: a secret field left empty keeps its stored secret (or
    the one typed before OK, carried in ``<provider>.<field>.pending``: a token of
    ``pending_box`` made for this provider, field and server, checked like a typed value).
    """
    providers = list(providers)
    known = set(FORM_CONTROL_KEYS)
    for provider in providers:
        known.update(f"{provider.name}.{key}" for key in OPTION_KEYS)
        for f in provider.fields:
            known.add(f"{provider.name}.{f.name}")
            if f.secret:
                known.add(f"{provider.name}.{f.name}.pending")
    unknown = sorted(set(post) - known)
    if unknown:
        raise BadSettingsForm(f"unknown form fields: {', '.join(unknown)[:200]}")

    document = copy.deepcopy(dict(base))
    form = SettingsForm(document=document, values={}, pending={}, errors={})
    for provider in providers:
        stored = ProviderConfig.from_document(base, provider.name)
        link_by_email = _checked(post, f"{provider.name}.link_by_email")
        position, position_error = _position(post, f"{provider.name}.position", stored.position)
        values: dict[str, str] = {}
        secrets = dict(stored.secrets)
        errors: dict[str, str] = {"position": position_error} if position_error else {}
        pending: dict[str, str] = {}
        for f in provider.fields:
            raw = post.get(f"{provider.name}.{f.name}", "")
            try:
                value = f.clean(raw)
            except FieldError as exc:
                errors[f.name] = exc.message
                continue
            if not f.secret:
                values[f.name] = value
                continue
            binding = pending_binding(provider, f.name, post)
            token = post.get(f"{provider.name}.{f.name}.pending")
            if not value and token:
                try:
                    value = f.clean(unseal(pending_box, str(token), PENDING_SECRET, binding,
                                           ttl=PENDING_SECRET_TTL))
                except (SecretDecryptionError, FieldError, TypeError):
                    errors[f.name] = _("Please type ${label} again.",
                                       mapping={"label": _(f.label)})
                    continue
            if value:
                secrets[f.name] = box.encrypt(value)
                pending[f.name] = seal(pending_box, PENDING_SECRET, binding, value)
        typed = ProviderConfig(name=provider.name, values=values, secrets=secrets)
        choice = _switch_choice(post, provider.name, stored, typed.has_any_value())
        complete = typed.is_complete(provider)
        if choice == CHOICE_ON:
            enabled = True
        elif choice == CHOICE_OFF:
            enabled = False
        else:
            # Never touched: the first time the credentials are filled turns the provider
            # on; a set-up provider that was off (an older document, an import) stays off.
            enabled = complete and (stored.enabled or not stored.is_complete(provider))
        if choice == CHOICE_ON or (choice is None and typed.has_any_value()):
            for f in provider.fields:
                have = secrets.get(f.name) if f.secret else values.get(f.name)
                if f.required and not have and f.name not in errors:
                    errors[f.name] = _("${label} is required to enable ${title}.",
                                       mapping={"label": _(f.label), "title": provider.title})
        if not errors:
            errors.update(provider.validate(values))
        config = ProviderConfig(
            name=provider.name, enabled=enabled, position=position,
            link_by_email=link_by_email, values=values, secrets=secrets, choice=choice)
        document[provider.name] = config.to_document()
        form.values[provider.name] = {
            **values, "enabled": "on" if config.switch_shown_on(provider) else "",
            "enabled_choice": choice or "",
            "link_by_email": "on" if link_by_email else "",
            "position": post.get(f"{provider.name}.position", str(position))[:8]}
        form.pending[provider.name] = pending
        form.errors[provider.name] = errors
    return form


class LoginSettingsService:
    """Reads and writes the draft and published login settings of one request."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.dbsession: Session = request.social_login_dbsession
        self.site = site_key(request)
        self.providers = list(get_provider_registry(request.registry))
        self.box: ISecretBox = request.registry.getUtility(ISecretBox)

    def draft(self) -> LoginSettings | None:
        """The stored draft, if any."""
        return read_stage(self.dbsession, self.site, DRAFT)

    def published(self) -> LoginSettings | None:
        """The live settings, if ever published."""
        return read_stage(self.dbsession, self.site, PUBLISHED)

    def editable_document(self) -> tuple[dict[str, Any], int]:
        """The draft's document and version (the published one if no draft yet)."""
        record = self.draft() or self.published()
        if record is None:
            return {}, 0
        return copy.deepcopy(record.document), record.version if record.stage == DRAFT else 0

    def parse(self, post: Mapping[str, str]) -> SettingsForm:
        """Check the editor's form against the current draft."""
        document, _version = self.editable_document()
        form = parse_settings_form(post, self.providers, document, self.box,
                                   purpose_box(self.request.registry, PENDING_SECRET))
        check_server_changes(form, post, self.providers, document, self.dbsession, self.site)
        return form

    def apply(self, form: SettingsForm, expected_version: int, userid: str | None
              ) -> LoginSettings:
        """Store ``form`` as the draft; VersionConflict if the draft moved on."""
        draft = self.draft()
        current = draft.version if draft is not None else 0
        if current != expected_version:
            raise VersionConflict(current)
        return self._store(draft, DRAFT, form.document, userid)

    def publish(self, form: SettingsForm, expected_version: int, userid: str | None
                ) -> PublishRecord:
        """Store ``form`` as the draft and make it live, in one transaction."""
        return self._make_live(self.apply(form, expected_version, userid), userid)

    def publish_draft(self, expected_version: int, userid: str | None) -> PublishRecord:
        """Make the stored draft live exactly as it is (the Save of the preview).

        VersionConflict when there is no draft or it is no longer ``expected_version``
        (someone applied other values since the preview was shown).
        """
        draft = self.draft()
        current = draft.version if draft is not None else 0
        if draft is None or current != expected_version:
            raise VersionConflict(current)
        return self._make_live(draft, userid)

    def _store(self, row: LoginSettings | None, stage: str, document: dict[str, Any],
               userid: str | None) -> LoginSettings:
        """Write a copy of ``document`` into this site's ``stage`` row ``row`` (made when
        None) and flush; the row."""
        if row is None:
            row = LoginSettings(site=self.site, stage=stage, document=copy.deepcopy(document),
                                updated_by=userid)
            self.dbsession.add(row)
        else:
            row.document = copy.deepcopy(document)
            row.updated_by = userid
            row.updated_at = utcnow()
        flush_or_retry(self.dbsession)
        return row

    def _make_live(self, draft: LoginSettings, userid: str | None) -> PublishRecord:
        published = self._store(self.published(), PUBLISHED, draft.document, userid)
        record = PublishRecord(site=self.site, version=published.version,
                               document=copy.deepcopy(draft.document), published_by=userid)
        self.dbsession.add(record)
        flush_or_retry(self.dbsession)
        # published.py builds on this module, hence the import here.
        from .published import forget_published_on_commit

        forget_published_on_commit(self.request)
        return record

    def last_publish(self) -> PublishRecord | None:
        """The latest Save."""
        return self.dbsession.scalar(
            select(PublishRecord).where(PublishRecord.site == self.site)
            .order_by(PublishRecord.id.desc()).limit(1))

    def draft_differs(self) -> bool:
        """Whether the draft holds changes that Save has not made live."""
        draft, published = self.draft(), self.published()
        if draft is None:
            return False
        return published is None or draft.document != published.document


def changed_endpoint(provider: Provider, before: Mapping[str, str],
                     after: Mapping[str, str]) -> str | None:
    """The first of ``provider.endpoint_fields`` whose value differs, or None."""
    for name in provider.endpoint_fields:
        if (before.get(name) or "").strip() != (after.get(name) or "").strip():
            return name
    return None


def drop_stale_secrets(provider: Provider, stored: ProviderConfig,
                       part: dict[str, Any]) -> list[str]:
    """Drop from ``part`` the secrets kept from ``stored`` (not typed again); their names.

    Called when an endpoint field changed: the old server's client secret must never be
    sent to the new server's token endpoint.
    """
    secrets = part.setdefault("secrets", {})
    dropped = []
    for f in provider.fields:
        if f.secret and stored.secrets.get(f.name) \
                and secrets.get(f.name) == stored.secrets[f.name]:
            del secrets[f.name]
            dropped.append(f.name)
    return dropped


def check_server_changes(form: SettingsForm, post: Mapping[str, str],
                         providers: Iterable[Provider], base: Mapping[str, Any],
                         dbsession: Session, site: str) -> None:
    """A tab that now points at another server (an endpoint field changed): its stored
    secrets are dropped (the editor types them again), and while people are linked
    through the old issuer (on ``site``) the editor ticks
    ``<provider>.confirm_server_change`` to say they stay linked to the old server only
    (the same user id at the new server is another person)."""
    for provider in providers:
        stored = ProviderConfig.from_document(base, provider.name)
        part = form.document.get(provider.name)
        if part is None:
            continue
        changed = changed_endpoint(provider, stored.values, part.get("values") or {})
        if changed is None:
            continue
        errors = form.errors.setdefault(provider.name, {})
        label = _(provider.field(changed).label)
        for name in drop_stale_secrets(provider, stored, part):
            errors.setdefault(name, _(
                "${field} changed: type the ${label} of the new server again (the old one "
                "is never sent to another server).",
                mapping={"field": label, "label": _(provider.field(name).label)}))
        old_issuer = provider.identity_issuer(stored.values)
        if old_issuer == provider.identity_issuer(part.get("values") or {}):
            continue
        people = dbsession.scalar(select(func.count()).select_from(LinkedIdentity).where(
            LinkedIdentity.site == site, LinkedIdentity.provider == provider.name,
            LinkedIdentity.issuer == old_issuer))
        if people and not _checked(post, f"{provider.name}.confirm_server_change"):
            form.values.setdefault(provider.name, {})["server_change_people"] = str(people)
            errors.setdefault(changed, _(
                "${count} people signed in through ${old}. They stay linked to that server "
                "only: someone signing in through the new one is a new person here, even "
                "with the same user id. Tick the box below to confirm.",
                mapping={"count": people, "old": old_issuer}))

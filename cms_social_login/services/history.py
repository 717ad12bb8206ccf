"""Publish history: what each Save changed, comparing versions, restoring one."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..crypto import SecretDecryptionError
from ..interfaces import ISecretBox
from ..models import PublishRecord
from ..providers.base import Provider
from .login_settings import LoginSettingsService, ProviderConfig, SettingsForm

OPTION_LABELS = (("enabled", "Enabled"), ("position", "Button order"),
                 ("link_by_email", "Link by confirmed email"))


class UnknownVersion(LookupError):
    """No Save has that version number."""


class DraftWouldBeLost(Exception):
    """Restoring would replace a draft with unpublished changes, and nobody confirmed it."""


@dataclass(frozen=True)
class Row:
    """One line of a side-by-side comparison (secrets only as set / not set / changed)."""

    provider: str
    label: str
    left: str
    right: str
    differs: bool


def _secret_text(box: ISecretBox, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return box.decrypt(token)
    except SecretDecryptionError:
        return "\0undecryptable:" + token


def compare(left: Mapping[str, Any], right: Mapping[str, Any], providers: Iterable[Provider],
            box: ISecretBox) -> list[Row]:
    """Every setting of ``left`` beside ``right``; secrets compared, never shown.

    Providers named in a document but no longer installed are listed under their name.
    """
    installed = {p.name: p for p in providers}
    names = list(installed) + sorted((set(left) | set(right)) - set(installed))
    rows: list[Row] = []
    for name in names:
        provider = installed.get(name)
        title = provider.title if provider else f"{name} (not installed)"
        a, b = ProviderConfig.from_document(left, name), ProviderConfig.from_document(right, name)
        if a == b == ProviderConfig(name=name):
            continue  # never set up on either side: nothing to compare
        for key, label in OPTION_LABELS:
            va, vb = _option(getattr(a, key)), _option(getattr(b, key))
            rows.append(Row(title, label, va, vb, va != vb))
        fields = provider.fields if provider else ()
        labels = {f.name: f.label for f in fields}
        secret_names = {f.name for f in fields if f.secret} | set(a.secrets) | set(b.secrets)
        value_names = [f.name for f in fields if not f.secret] + sorted(
            (set(a.values) | set(b.values)) - {f.name for f in fields})
        for field in value_names:
            va, vb = a.values.get(field, ""), b.values.get(field, "")
            rows.append(Row(title, labels.get(field, field), va, vb, va != vb))
        for field in sorted(secret_names):
            sa, sb = a.secrets.get(field), b.secrets.get(field)
            differs = _secret_text(box, sa) != _secret_text(box, sb)
            rows.append(Row(title, labels.get(field, field), "set" if sa else "not set",
                            ("changed" if differs and sa and sb else "set") if sb else "not set",
                            differs))
    return rows


def _option(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any],
                     providers: Iterable[Provider], box: ISecretBox) -> list[str]:
    """Short names of what differs, e.g. ``"Bitbucket: Bitbucket Client Secret (changed)"``."""
    return [f"{row.provider}: {row.label}" + (" (changed)" if row.right == "changed" else "")
            for row in compare(before, after, providers, box) if row.differs]


@dataclass(frozen=True)
class HistoryEntry:
    """A Save as the history page lists it."""

    record: PublishRecord
    changes: list[str]
    live: bool


class HistoryService:
    """Lists, compares and restores published versions."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.settings = LoginSettingsService(request)
        self.box: ISecretBox = request.registry.getUtility(ISecretBox)

    def entries(self, limit: int = 200) -> list[HistoryEntry]:
        """The latest Saves, newest first, each with what it changed."""
        records = list(self.request.social_login_dbsession.scalars(
            select(PublishRecord).order_by(PublishRecord.id.desc()).limit(limit + 1)))
        entries = []
        for index, record in enumerate(records[:limit]):
            before = records[index + 1].document if index + 1 < len(records) else {}
            entries.append(HistoryEntry(
                record=record, live=index == 0,
                changes=changed_settings(before, record.document, self.settings.providers,
                                         self.box)))
        return entries

    def get(self, version: int) -> PublishRecord:
        """The Save of ``version``; UnknownVersion if there is none."""
        record = self.request.social_login_dbsession.scalar(
            select(PublishRecord).where(PublishRecord.version == version)
            .order_by(PublishRecord.id.desc()).limit(1))
        if record is None:
            raise UnknownVersion(version)
        return record

    def compare_with_live(self, record: PublishRecord) -> list[Row]:
        """``record`` beside the live settings."""
        published = self.settings.published()
        return compare(record.document, published.document if published else {},
                       self.settings.providers, self.box)

    def missing_providers(self, record: PublishRecord) -> list[str]:
        """Providers configured in ``record`` that this site no longer offers."""
        installed = {p.name for p in self.settings.providers}
        return sorted(set(record.document) - installed)

    def restore(self, record: PublishRecord, expected_version: int, confirmed: bool,
                publish: bool, userid: str | None):
        """Make ``record``'s settings the draft (and publish them when ``publish``).

        Refuses (DraftWouldBeLost) to overwrite a draft with unpublished changes unless
        the editor ``confirmed``; the usual version check guards against a concurrent
        editor (VersionConflict).
        """
        if self.settings.draft_differs() and not confirmed:
            raise DraftWouldBeLost()
        form = SettingsForm(document=copy.deepcopy(record.document), values={}, pending={},
                            errors={})
        if publish:
            return self.settings.publish(form, expected_version, userid)
        return self.settings.apply(form, expected_version, userid)

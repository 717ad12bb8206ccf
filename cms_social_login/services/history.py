"""Publish history: what each Save changed, comparing versions, restoring one."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..crypto import SecretDecryptionError
from ..i18n import _, english
from ..interfaces import ISecretBox
from ..models import PublishRecord
from ..providers.base import Provider
from .login_settings import LoginSettingsService, ProviderConfig, SettingsForm

#: Saves listed per page of the history.
HISTORY_PAGE_SIZE = 20
#: The history lists the latest this many Saves.
HISTORY_LIMIT = 200

OPTION_LABELS = (("enabled", _("Enabled")), ("position", _("Button order")),
                 ("link_by_email", _("Link by confirmed email")))
YES, NO = _("yes"), _("no")
SET, NOT_SET, CHANGED = _("set"), _("not set"), _("changed")


class UnknownVersion(LookupError):
    """No Save has that version number."""


class DraftWouldBeLost(Exception):
    """Restoring would replace a draft with unpublished changes, and nobody confirmed it."""


@dataclass(frozen=True)
class Row:
    """One setting across documents (secrets only as set / not set / changed).

    ``cells`` hold plain values or messages (``yes``, ``set`` ...); ``differs`` says, per
    cell after the first, whether it differs from the first.
    """

    provider: Any
    label: Any
    cells: tuple[Any, ...]
    differs: tuple[bool, ...]

    @property
    def any_differs(self) -> bool:
        """Whether any document differs from the first in this setting."""
        return any(self.differs)


@dataclass(frozen=True)
class Change:
    """One setting a Save changed (``secret_changed``: a secret set before and after)."""

    provider: Any
    label: Any
    secret_changed: bool = False

    def english(self) -> str:
        """``"Bitbucket: Bitbucket Client Secret (changed)"``, as the audit log stores it."""
        return f"{english(self.provider)}: {english(self.label)}" + (
            " (changed)" if self.secret_changed else "")


def _secret_text(box: ISecretBox, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return box.decrypt(token)
    except SecretDecryptionError:
        return "\0undecryptable:" + token


class _RequestSecrets:
    """A secret box that decrypts each token once (a page compares one secret with the
    next Save's many times)."""

    def __init__(self, box: ISecretBox) -> None:
        self._box = box
        self._plain: dict[str, str] = {}

    def decrypt(self, token: str, ttl: int | None = None) -> str:
        """The plaintext of ``token`` (SecretDecryptionError as the box raises it)."""
        if ttl is not None:
            return self._box.decrypt(token, ttl=ttl)
        if token not in self._plain:
            self._plain[token] = self._box.decrypt(token)
        return self._plain[token]


def _option(value: object) -> Any:
    if isinstance(value, bool):
        return YES if value else NO
    return str(value)


def _set_up(config: ProviderConfig) -> bool:
    """Whether an editor ever touched this provider (a switch, a value, a secret)."""
    return (config.enabled or config.link_by_email or any(config.values.values())
            or any(config.secrets.values()))


def compare(documents: Sequence[Mapping[str, Any]], providers: Iterable[Provider],
            box: ISecretBox) -> list[Row]:
    """Every setting of ``documents[0]`` beside the same setting in the others.

    Secrets are compared, never shown. Providers never set up in any document are left
    out; providers named in a document but no longer installed are listed under their name.
    """
    installed = {p.name: p for p in providers}
    named = set().union(*(set(document) for document in documents))
    rows: list[Row] = []
    for name in list(installed) + sorted(named - set(installed)):
        provider = installed.get(name)
        title = provider.title if provider else _("${name} (not installed)",
                                                   mapping={"name": name})
        configs = [ProviderConfig.from_document(document, name) for document in documents]
        if not any(_set_up(config) for config in configs):
            continue  # never set up anywhere: nothing to compare
        first, others = configs[0], configs[1:]
        for key, label in OPTION_LABELS:
            cells = [_option(getattr(config, key)) for config in configs]
            rows.append(Row(title, label, tuple(cells),
                            tuple(cell != cells[0] for cell in cells[1:])))
        fields = provider.fields if provider else ()
        labels = {f.name: _(f.label) for f in fields}
        secret_names = {f.name for f in fields if f.secret}.union(
            *(set(config.secrets) for config in configs))
        value_names = [f.name for f in fields if not f.secret] + sorted(
            set().union(*(set(config.values) for config in configs))
            - {f.name for f in fields})
        for key in value_names:
            cells = [config.values.get(key, "") for config in configs]
            rows.append(Row(title, labels.get(key, key), tuple(cells),
                            tuple(cell != cells[0] for cell in cells[1:])))
        for key in sorted(secret_names):
            first_token = first.secrets.get(key)
            plain = _secret_text(box, first_token)
            cells: list[Any] = [SET if first_token else NOT_SET]
            differs = []
            for config in others:
                token = config.secrets.get(key)
                differs.append(_secret_text(box, token) != plain)
                cells.append((CHANGED if differs[-1] and first_token else SET) if token
                             else NOT_SET)
            rows.append(Row(title, labels.get(key, key), tuple(cells), tuple(differs)))
    return rows


def changes(before: Mapping[str, Any], after: Mapping[str, Any],
            providers: Iterable[Provider], box: ISecretBox) -> list[Change]:
    """The settings that differ between ``before`` and ``after``."""
    return [Change(row.provider, row.label, row.cells[1] is CHANGED)
            for row in compare([before, after], providers, box) if row.any_differs]


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any],
                     providers: Iterable[Provider], box: ISecretBox) -> list[str]:
    """Short English names of what differs, e.g.
    ``"Bitbucket: Bitbucket Client Secret (changed)"`` (what the audit log stores)."""
    return [change.english() for change in changes(before, after, providers, box)]


def change_in_words(stored: object) -> Any:
    """A change as :func:`changed_settings` stored it, as a message to translate."""
    head, colon, label = str(stored).partition(": ")
    if not colon:
        return str(stored)
    suffix = " (changed)"
    changed = label.endswith(suffix)
    label = label[:-len(suffix)] if changed else label
    mapping = {"provider": head, "setting": _(label)}
    if changed:
        return _("${provider}: ${setting} (changed)", mapping=mapping)
    return _("${provider}: ${setting}", mapping=mapping)


@dataclass(frozen=True)
class HistoryEntry:
    """A Save as the history page lists it (``again``: the older version it published
    again, when its settings are exactly those of an older Save)."""

    record: PublishRecord
    changes: list[Change]
    live: bool
    again: int | None = None


class HistoryService:
    """Lists, compares and restores published versions."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.settings = LoginSettingsService(request)
        self.box: ISecretBox = request.registry.getUtility(ISecretBox)

    def entries(self, page: int = 1, limit: int = HISTORY_LIMIT
                ) -> tuple[list[HistoryEntry], bool]:
        """One page (:data:`HISTORY_PAGE_SIZE`) of the latest ``limit`` Saves, newest
        first, each with what it changed; and whether an older page follows.

        A page reads its own Saves and the one before them; only when one of them
        changed something are the older ones (among the latest ``limit``) read too, to
        tell whether it published an older version again.
        """
        start = (page - 1) * HISTORY_PAGE_SIZE
        if start >= limit:
            return [], False
        dbsession = self.request.social_login_dbsession
        of_site = PublishRecord.site == self.settings.site
        records = list(dbsession.scalars(
            select(PublishRecord).where(of_site).order_by(PublishRecord.id.desc())
            .offset(start).limit(min(HISTORY_PAGE_SIZE, limit - start) + 1)))
        shown = records[:min(HISTORY_PAGE_SIZE, limit - start)]
        older: list[tuple[int, Any]] | None = None
        box = _RequestSecrets(self.box)
        entries = []
        for index, record in enumerate(shown):
            before = records[index + 1].document if index + 1 < len(records) else {}
            again = None
            if index + 1 < len(records) and before != record.document:
                if older is None:  # the older Saves, read once, only their documents
                    older = [(r.version, r.document) for r in records[len(shown):]] + list(
                        dbsession.execute(
                            select(PublishRecord.version, PublishRecord.document)
                            .where(of_site, PublishRecord.id < records[-1].id)
                            .order_by(PublishRecord.id.desc())
                            .limit(max(0, limit - start - len(records)))))
                candidates = [(r.version, r.document) for r in shown[index + 2:]] + older
                again = next((version for version, document in candidates
                              if document == record.document), None)
            entries.append(HistoryEntry(
                record=record, live=start + index == 0, again=again,
                changes=[] if before == record.document else changes(
                    before, record.document, self.settings.providers, box)))
        return entries, len(records) > len(shown) and start + len(shown) < limit

    def get(self, version: int) -> PublishRecord:
        """The Save of ``version``; UnknownVersion if there is none."""
        record = self.request.social_login_dbsession.scalar(
            select(PublishRecord).where(PublishRecord.site == self.settings.site,
                                        PublishRecord.version == version)
            .order_by(PublishRecord.id.desc()).limit(1))
        if record is None:
            raise UnknownVersion(version)
        return record

    def compare_with_current(self, record: PublishRecord) -> tuple[list[Row], bool]:
        """``record`` beside the draft (when it differs from the live settings) and the
        live settings; and whether the draft column is there."""
        published, draft = self.settings.published(), self.settings.draft()
        live = published.document if published else {}
        documents = [record.document]
        with_draft = draft is not None and draft.document != live
        if with_draft:
            documents.append(draft.document)
        documents.append(live)
        return compare(documents, self.settings.providers, self.box), with_draft

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

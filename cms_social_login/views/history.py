"""Editor pages: publish history, a version beside the draft and the live settings, restore;
the audit log and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.i18n import TranslationString
from pyramid.response import Response

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..providers.registry import get_provider_registry
from ..redirects import site_route_url
from ..services import audit
from ..services.history import (
    Change,
    DraftWouldBeLost,
    HistoryService,
    UnknownVersion,
    change_in_words,
)
from ..services.login_settings import VersionConflict
from ..sites import site_key
from .editor import editor_shell
from .helpers import posted_draft_version, refuse_oversized_form


def _names(request: Any, userids: set[str | None]) -> dict[str | None, str]:
    adapter = request.registry.getUtility(IUserAdapter)
    names: dict[str | None, str] = {None: "—"}
    for userid in userids - {None}:
        user = adapter.get_user(request, userid)
        names[userid] = user.display_name if user is not None else userid
    return names


def _say(request: Any, value: Any) -> str:
    """A message in the request's language; a plain value (a client ID) as it is."""
    return translate(request, value) if isinstance(value, TranslationString) else str(value)


def _change_text(request: Any, change: Change) -> str:
    mapping = {"provider": _say(request, change.provider),
               "setting": _say(request, change.label)}
    if change.secret_changed:
        return translate(request, _("${provider}: ${setting} (changed)", mapping=mapping))
    return translate(request, _("${provider}: ${setting}", mapping=mapping))


def history_list(request: Any) -> dict[str, Any]:
    """GET .../login/history: every Save, newest first, with what it changed."""
    raw = str(request.GET.get("page", "1"))
    page = int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 3 else 1
    entries, more = HistoryService(request).entries(page=max(1, page))
    values = editor_shell(request, "history")
    values["page"], values["more"] = max(1, page), more
    values["entries"] = [{
        "record": entry.record, "live": entry.live, "again": entry.again,
        "changes": [_change_text(request, change) for change in entry.changes],
    } for entry in entries]
    values["names"] = _names(request, {e.record.published_by for e in entries})
    return values


def _version(request: Any) -> int:
    raw = request.matchdict["version"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise HTTPNotFound(translate(request, _("There is no such version.")))
    return int(raw)


def version_page(request: Any, *, error: str | None = None, status: int = 200
                 ) -> dict[str, Any]:
    """GET .../login/history/{version}: that version beside the draft and the live settings.

    Only the settings that differ, unless ``?all=1`` ("Show all settings").
    """
    service = HistoryService(request)
    try:
        record = service.get(_version(request))
    except UnknownVersion:
        raise HTTPNotFound(translate(request, _("There is no such version."))) from None
    _document, draft_version = service.settings.editable_document()
    rows, with_draft = service.compare_with_current(record)
    show_all = request.GET.get("all") == "1"
    values = editor_shell(request, "history")
    values.update({
        "record": record,
        "rows": [{"provider": _say(request, row.provider), "label": _say(request, row.label),
                  "cells": [_say(request, cell) for cell in row.cells],
                  "differs": row.differs, "any_differs": row.any_differs}
                 for row in rows if show_all or row.any_differs],
        "hidden_rows": 0 if show_all else sum(not row.any_differs for row in rows),
        "show_all": show_all,
        "with_draft": with_draft,
        "missing": service.missing_providers(record),
        "publisher": _names(request, {record.published_by})[record.published_by],
        "draft_version": draft_version,
        "error": error,
    })
    request.response.status_int = status
    return values


def restore(request: Any):
    """POST .../login/history/{version}: into the draft, or published again."""
    refuse_oversized_form(request)
    action = request.POST.get("action")
    if action not in ("restore", "publish-version"):
        raise HTTPBadRequest("Unknown action.")
    expected = posted_draft_version(request)
    service = HistoryService(request)
    try:
        record = service.get(_version(request))
    except UnknownVersion:
        raise HTTPNotFound(translate(request, _("There is no such version."))) from None
    confirmed = request.POST.get("confirm_replace_draft") == "on"
    try:
        service.restore(record, expected, confirmed, action == "publish-version",
                        request.authenticated_userid)
    except DraftWouldBeLost:
        return version_page(request, status=409, error=translate(request, _(
            "The draft has changes that are not published. Tick \u201cReplace my unpublished "
            "draft\u201d to restore this version anyway, or publish the draft first.")))
    except VersionConflict:
        return version_page(request, status=409, error=translate(request, _(
            "Someone else changed the settings meanwhile. Nothing was restored: check the "
            "draft, then try again.")))
    missing = service.missing_providers(record)
    audit.record(request, audit.EDITOR, action,
                 detail={"version": record.version, "missing_providers": missing})
    if action == "publish-version":
        done = _("Published version ${version} again.", mapping={"version": record.version})
    else:
        done = _("Version ${version} restored into the draft. The live login page is "
                 "unchanged until Save.", mapping={"version": record.version})
    request.session.flash(translate(request, done))
    if missing:
        request.session.flash(translate(request, _(
            "Settings for ${providers} were kept but stay inactive: that provider is not "
            "installed on this site.", mapping={"providers": ", ".join(missing)})))
    return HTTPSeeOther(site_route_url(request, "cms_social_login.editor_settings"))


def _audit_rows(request: Any, events: list) -> list[dict[str, Any]]:
    """The events in words, in the request's language."""
    titles = {p.name: p.title for p in get_provider_registry(request.registry)}
    names = _names(request, {e.actor for e in events})
    rows = []
    for event in events:
        words = audit.in_words(event, change_in_words)
        rows.append({
            "event": event,
            "when": audit.as_utc(event.at).strftime("%Y-%m-%d %H:%M:%S"),
            "kind": _say(request, words.kind),
            "action": _say(request, words.action),
            "provider": titles.get(event.provider, event.provider or ""),
            "who": names.get(event.actor, event.actor) if event.actor
            else translate(request, _("Not signed in")),
            "details": [_say(request, item) for item in words.details],
        })
    return rows


def _provider_choices(request: Any, counts: list[audit.ProviderCount]
                      ) -> list[tuple[str, str]]:
    """The provider drop-down: installed providers and any others the log names."""
    choices = {p.name: p.title for p in get_provider_registry(request.registry)}
    for count in counts:
        choices.setdefault(count.provider.lower(), count.provider)
    return sorted(choices.items(), key=lambda item: str(item[1]).lower())


def audit_page(request: Any) -> dict[str, Any]:
    """GET .../login/audit: editor actions and sign-ins, filtered, with counts per provider."""
    wanted = audit.AuditFilter.from_params(request.GET, site_key(request))
    dbsession = request.social_login_dbsession
    events, more = audit.query_events(dbsession, wanted)
    counts = audit.provider_counts(dbsession, wanted)
    titles = dict(_provider_choices(request, counts))
    values = editor_shell(request, "audit")
    values.update({
        "rows": _audit_rows(request, events), "more": more, "wanted": wanted,
        "kinds": [(kind, _say(request, audit.KIND_LABELS[kind])) for kind in audit.KINDS],
        "actions": [(kind, _say(request, audit.KIND_LABELS[kind]),
                     [(action, _say(request, audit.ACTION_LABELS[action]))
                      for action in group]) for kind, group in audit.ACTIONS.items()],
        "providers": _provider_choices(request, counts),
        "counts": [(titles.get(count.provider.lower(), count.provider), count)
                   for count in counts],
        "query": wanted.query(),
    })
    return values


def audit_csv(request: Any) -> Response:
    """GET .../login/audit?format=csv: the filtered events as a spreadsheet (UTF-8 CSV)."""
    wanted = audit.AuditFilter.from_params(request.GET, site_key(request))
    events = audit.export_events(request.social_login_dbsession, wanted)
    header = [translate(request, text) for text in (
        _("When (UTC)"), _("Kind"), _("Action or outcome"), _("Provider"), _("Who"),
        _("Detail"))]
    body = [[row["when"], row["kind"], row["action"],
             row["provider"], row["who"], "; ".join(row["details"])]
            for row in _audit_rows(request, events)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(audit.csv_rows([header, *body]))
    response = Response(body=("\ufeff" + buffer.getvalue()).encode("utf-8"),
                        content_type="text/csv", charset="utf-8")
    response.content_disposition = 'attachment; filename="login-audit-log.csv"'
    response.cache_control = "no-store"
    return response


def includeme(config: Configurator) -> None:
    """Register the history and audit views under the editor permission."""
    permission = config.registry.social_login_settings.editor_permission
    config.add_view(history_list, route_name="cms_social_login.editor_history",
                    request_method="GET", permission=permission, http_cache=0,
                    renderer="cms_social_login/editor_history.jinja2")
    config.add_view(version_page, route_name="cms_social_login.editor_history_version",
                    request_method="GET", permission=permission, http_cache=0,
                    renderer="cms_social_login/editor_history_version.jinja2")
    config.add_view(restore, route_name="cms_social_login.editor_history_version",
                    request_method="POST", permission=permission, require_csrf=True,
                    http_cache=0, renderer="cms_social_login/editor_history_version.jinja2")
    config.add_view(audit_page, route_name="cms_social_login.editor_audit",
                    request_method="GET", permission=permission, http_cache=0,
                    renderer="cms_social_login/editor_audit.jinja2")
    config.add_view(audit_csv, route_name="cms_social_login.editor_audit",
                    request_method="GET", request_param="format=csv", permission=permission)

"""Editor pages: publish history, a version beside the live one, restore; the audit log."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..services import audit
from ..services.history import DraftWouldBeLost, HistoryService, UnknownVersion
from ..services.login_settings import VersionConflict
from .editor import editor_shell
from .public import refuse_oversized_form


def _names(request: Any, userids: set[str | None]) -> dict[str | None, str]:
    adapter = request.registry.getUtility(IUserAdapter)
    names: dict[str | None, str] = {None: "—"}
    for userid in userids - {None}:
        user = adapter.get_user(request, userid)
        names[userid] = user.display_name if user is not None else userid
    return names


def history_list(request: Any) -> dict[str, Any]:
    """GET .../login/history: every Save, newest first, with what it changed."""
    entries = HistoryService(request).entries()
    values = editor_shell(request, "history")
    values["entries"] = entries
    values["names"] = _names(request, {e.record.published_by for e in entries})
    return values


def _version(request: Any) -> int:
    raw = request.matchdict["version"]
    if not raw.isdigit() or len(raw) > 9:
        raise HTTPNotFound(translate(request, _("There is no such version.")))
    return int(raw)


def version_page(request: Any, *, error: str | None = None, status: int = 200
                 ) -> dict[str, Any]:
    """GET .../login/history/{version}: that version beside the live settings."""
    service = HistoryService(request)
    try:
        record = service.get(_version(request))
    except UnknownVersion:
        raise HTTPNotFound(translate(request, _("There is no such version."))) from None
    _document, draft_version = service.settings.editable_document()
    values = editor_shell(request, "history")
    values.update({
        "record": record,
        "rows": service.compare_with_live(record),
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
    try:
        expected = int(request.POST.get("draft_version", ""))
    except ValueError:
        raise HTTPBadRequest("The form is missing its version; reload the page.") from None
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
        done = _("Version ${version} is live again.", mapping={"version": record.version})
    else:
        done = _("Version ${version} restored into the draft. The live login page is "
                 "unchanged until Save.", mapping={"version": record.version})
    request.session.flash(translate(request, done))
    if missing:
        request.session.flash(translate(request, _(
            "Settings for ${providers} were kept but stay inactive: that provider is not "
            "installed on this site.", mapping={"providers": ", ".join(missing)})))
    return HTTPSeeOther(request.route_url("cms_social_login.editor_settings"))


def audit_page(request: Any) -> dict[str, Any]:
    """GET .../login/audit: editor actions and sign-ins, filtered."""
    wanted = audit.AuditFilter.from_params(request.GET)
    events, more = audit.query_events(request.social_login_dbsession, wanted)
    values = editor_shell(request, "audit")
    values.update({
        "events": events, "more": more, "wanted": wanted, "kinds": audit.KINDS,
        "actions": audit.ACTIONS, "names": _names(request, {e.actor for e in events}),
        "query": {k: v for k, v in request.GET.items() if k != "page"},
    })
    return values


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

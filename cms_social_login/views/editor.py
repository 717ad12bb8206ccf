"""The editor's side: Site -> System Pages -> Login -> Login setting (tabs), preview."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther

from ..crypto import can_decrypt
from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..services import audit
from ..services.history import changed_settings
from ..services.login_settings import (
    BadSettingsForm,
    LoginSettingsService,
    ProviderConfig,
    SettingsForm,
    VersionConflict,
)
from ..services.sso import callback_url
from ..services.verify import can_verify, verify_credentials
from .public import current_user, login_page, refuse_oversized_form

ACTIONS = ("ok", "apply", "preview", "save")
SETTINGS_TEMPLATE = "cms_social_login/editor_settings.jinja2"


def _publisher_name(request: Any, userid: str | None) -> str | None:
    if not userid:
        return None
    user = request.registry.getUtility(IUserAdapter).get_user(request, userid)
    return user.display_name if user is not None else userid


def editor_shell(request: Any, section: str) -> dict[str, Any]:
    """Values every editor page shares (navigation, user, status of the login settings)."""
    service = LoginSettingsService(request)
    last = service.last_publish()
    return {
        "section": section,
        "user": current_user(request),
        "csrf_token": get_csrf_token(request),
        "draft_differs": service.draft_differs(),
        "has_draft": service.draft() is not None,
        "last_publish": last,
        "last_publisher": _publisher_name(request, last.published_by) if last else None,
        "flash": request.session.pop_flash(),
    }


def editor_home(request: Any) -> dict[str, Any]:
    """GET /editor: the Site overview."""
    return editor_shell(request, "site")


def system_pages(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages: the list of system pages."""
    return editor_shell(request, "system-pages")


def login_system_page(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login: the Login page with its Login form block."""
    values = editor_shell(request, "login")
    values["login"] = login_page(request, document=_draft_document(request),
                                 preview=True)["login"]
    return values


def _draft_document(request: Any) -> dict[str, Any]:
    document, _version = LoginSettingsService(request).editable_document()
    return document


def _tabs(request: Any, service: LoginSettingsService, document: dict[str, Any],
          form: SettingsForm | None, active: str) -> list[dict[str, Any]]:
    tabs = []
    names = [provider.name for provider in service.providers]
    if active not in names and names:
        active = names[0]
    for provider in service.providers:
        config = ProviderConfig.from_document(document, provider.name)
        if form is not None:
            values = form.values.get(provider.name, {})
            errors = form.errors.get(provider.name, {})
            pending = form.pending.get(provider.name, {})
        else:
            values = {**config.values, "enabled": "on" if config.enabled else "",
                      "link_by_email": "on" if config.link_by_email else "",
                      "position": str(config.position)}
            errors, pending = {}, {}
        tabs.append({
            "provider": provider,
            "template": provider.tab_template or "cms_social_login/provider_tab.jinja2",
            "active": provider.name == active,
            "field_values": values,
            "errors": {key: translate(request, text) for key, text in errors.items()},
            "pending": pending,
            "secret_set": {f.name: bool(config.secrets.get(f.name)) for f in provider.fields
                           if f.secret},
            # Stored secrets no key of cms_social_login.secret_key reads any more.
            "unreadable": [f.name for f in provider.fields if f.secret and config.secrets.get(
                f.name) and not can_decrypt(service.box, config.secrets[f.name])],
            "callback_url": callback_url(request, provider.name),
            "can_verify": can_verify(provider),
        })
    return tabs


def render_settings(request: Any, *, form: SettingsForm | None = None,
                    message: str | None = None, error: str | None = None,
                    version: int | None = None, active: str | None = None,
                    verification: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of the Login setting dialog."""
    service = LoginSettingsService(request)
    document, draft_version = service.editable_document()
    values = editor_shell(request, "settings")
    values.update({
        "tabs": _tabs(request, service, document, form,
                      active or str(request.params.get("tab", ""))),
        "draft_version": draft_version if version is None else version,
        "message": translate(request, message) if message else None,
        "error": translate(request, error) if error else None,
        "verification": verification,
    })
    return values


def settings_form(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login/settings."""
    return render_settings(request)


def settings_submit(request: Any):
    """POST /editor/system-pages/login/settings: OK, Apply, Preview or Save."""
    refuse_oversized_form(request)
    action = request.POST.get("action")
    verify_name = action[len("verify-"):] if isinstance(action, str) and \
        action.startswith("verify-") else None
    if action not in ACTIONS and verify_name is None:
        raise HTTPBadRequest("Unknown action.")
    try:
        expected = int(request.POST.get("draft_version", ""))
    except ValueError:
        raise HTTPBadRequest("The form is missing its version; reload the page.") from None
    service = LoginSettingsService(request)
    try:
        form = service.parse(request.POST)
    except BadSettingsForm as exc:
        raise HTTPBadRequest(str(exc)) from None
    tab = str(request.POST.get("tab", ""))
    if not form.ok:
        request.response.status_int = 400
        first = next((name for name, errors in form.errors.items() if errors), tab)
        return render_settings(request, form=form, version=expected, active=first,
                               error=_("Please correct the marked fields. Nothing was stored."))
    if verify_name is not None:
        return _verify(request, service, form, verify_name, expected)
    if action == "ok":
        return render_settings(
            request, form=form, version=expected,
            message=_("Checked. Nothing is stored yet: Apply keeps these values as the draft, "
                      "Save publishes them."))
    userid = request.authenticated_userid
    before, _version = service.editable_document()
    try:
        if action == "save":
            live = service.published()
            before = live.document if live is not None else {}
            record = service.publish(form, expected, userid)
            version = record.version
            request.session.flash(translate(request, _(
                "Published version ${version}: the live login page now uses these settings.",
                mapping={"version": record.version})))
        else:
            version = service.apply(form, expected, userid).version
            request.session.flash(translate(request, _(
                "Draft stored. The live login page is unchanged until Save.")))
    except VersionConflict:
        request.response.status_int = 409
        return render_settings(
            request, form=form, version=expected,
            error=_("Someone else changed these settings since you opened them. Nothing was "
                    "stored: reload the page to see their changes, then make yours again."))
    audit.record(request, audit.EDITOR, action, detail={
        "version": version,
        "changed": changed_settings(before, form.document, service.providers, service.box)})
    if action == "preview":
        return HTTPSeeOther(request.route_url("cms_social_login.editor_preview"))
    return HTTPSeeOther(request.route_url("cms_social_login.editor_settings",
                                          _query={"tab": tab} if tab else {}))


def _verify(request: Any, service: LoginSettingsService, form: SettingsForm, name: str,
            expected: int) -> dict[str, Any]:
    """The Verify credentials button of one tab: ask the provider, store nothing."""
    provider = next((p for p in service.providers if p.name == name), None)
    if provider is None or not can_verify(provider):
        raise HTTPBadRequest("This provider cannot verify credentials.")
    config = ProviderConfig.from_document(form.document, name)
    if not config.is_complete(provider):
        request.response.status_int = 400
        return render_settings(request, form=form, version=expected, active=name,
                               verification={"provider": name, "ok": False, "message": translate(
                                   request, _("Fill in every required field first."))})
    result = verify_credentials(provider, config.plain_values(provider, service.box))
    audit.record(request, audit.EDITOR, "verify", provider=name,
                 detail={"result": {True: "works", False: "refused"}.get(result.ok,
                                                                         "unknown")})
    return render_settings(request, form=form, version=expected, active=name,
                           verification={"provider": name, "ok": result.ok,
                                         "message": translate(request, result.message)})


def preview(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login/preview: the login page as the draft would make it."""
    return login_page(request, document=_draft_document(request), preview=True)


def includeme(config: Configurator) -> None:
    """Register the editor views under the editor permission, CSRF-checked."""
    permission = config.registry.social_login_settings.editor_permission
    pages = [
        (editor_home, "cms_social_login.editor_home", "editor_home.jinja2"),
        (system_pages, "cms_social_login.editor_system_pages", "editor_system_pages.jinja2"),
        (login_system_page, "cms_social_login.editor_login_page", "editor_login_page.jinja2"),
        (settings_form, "cms_social_login.editor_settings", "editor_settings.jinja2"),
        (preview, "cms_social_login.editor_preview", "login.jinja2"),
    ]
    for view, route, template in pages:
        config.add_view(view, route_name=route, request_method="GET", permission=permission,
                        renderer=f"cms_social_login/{template}", http_cache=0)
    config.add_view(settings_submit, route_name="cms_social_login.editor_settings",
                    request_method="POST", permission=permission, require_csrf=True,
                    renderer=SETTINGS_TEMPLATE, http_cache=0)

"""The editor's side: Site -> System Pages -> Login -> Login setting (tabs), preview."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.traversal import DefaultRootFactory

from ..crypto import can_decrypt
from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..providers.base import Provider
from ..redirects import site_route_url
from ..services import audit, test_login
from ..services.history import changed_settings
from ..services.login_settings import (
    BadSettingsForm,
    LoginButton,
    LoginSettingsService,
    ProviderConfig,
    SettingsForm,
    VersionConflict,
    login_buttons,
)
from ..services.provider_sessions import warm_providers
from ..services.sso import callback_url
from ..services.status import ProviderStatus, provider_statuses, sign_in_activity
from ..services.verify import can_verify, verify_credentials
from .helpers import current_user, login_page, posted_draft_version, refuse_oversized_form

ACTIONS = ("ok", "apply", "preview", "save")
#: Actions of one tab: ``<action>-<provider name>``.
TAB_ACTIONS = ("verify", "test", "show", "tab")
SETTINGS_TEMPLATE = "cms_social_login/editor_settings.jinja2"
PREVIEW_TEMPLATE = "cms_social_login/editor_preview.jinja2"


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
        "flash_warnings": request.session.pop_flash("warning"),
    }


def editor_home(request: Any) -> dict[str, Any]:
    """GET /editor: the Site overview."""
    return editor_shell(request, "site")


def system_pages(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages: the list of system pages."""
    return editor_shell(request, "system-pages")


def login_system_page(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login: the Login page with its Login form block."""
    service = LoginSettingsService(request)
    document, _version = service.editable_document()
    values = editor_shell(request, "login")
    values["login"] = login_page(request, document=document, preview=True)["login"]
    statuses = _statuses(service, document)
    values["providers"] = [(provider, statuses[provider.name])
                           for provider in service.providers]
    return values


def _statuses(service: LoginSettingsService, document: dict[str, Any]
              ) -> dict[str, ProviderStatus]:
    """Every provider's status in words (one audit query for all of them)."""
    published = service.published()
    activity = sign_in_activity(service.dbsession, service.site,
                                [p.name for p in service.providers])
    return provider_statuses(service.providers, document,
                             published.document if published is not None else {}, activity)


def _hidden_buttons(document: dict[str, Any], providers: list[Provider]) -> list[LoginButton]:
    """The buttons of providers that are set up but switched off (where they would be)."""
    hidden = []
    for provider in providers:
        config = ProviderConfig.from_document(document, provider.name)
        if config.set_up_but_hidden(provider):
            hidden.append(LoginButton(provider.name, provider.display_title(config.values),
                                      provider.icon))
    return hidden


def _tabs(request: Any, service: LoginSettingsService, document: dict[str, Any],
          form: SettingsForm | None, active: str) -> list[dict[str, Any]]:
    tabs = []
    names = [provider.name for provider in service.providers]
    if active not in names and names:
        active = names[0]
    shown = form.document if form is not None else document
    statuses = _statuses(service, document)  # what is stored; the notices follow the form
    for provider in service.providers:
        config = ProviderConfig.from_document(document, provider.name)
        current = ProviderConfig.from_document(shown, provider.name)
        if form is not None:
            values = form.values.get(provider.name, {})
            errors = form.errors.get(provider.name, {})
            pending = form.pending.get(provider.name, {})
        else:
            values = {**config.values,
                      "enabled": "on" if config.switch_shown_on(provider) else "",
                      "enabled_choice": config.choice or "",
                      "link_by_email": "on" if config.link_by_email else "",
                      "position": str(config.position)}
            errors, pending = {}, {}
        address = callback_url(request, provider.name)
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
            "callback_url": address,
            "setup_steps": [translate(request, step, callback_url=address)
                            for step in provider.setup_steps],
            "can_verify": can_verify(provider),
            "hidden": current.set_up_but_hidden(provider),
            "status": statuses[provider.name],
        })
    return tabs


def render_settings(request: Any, *, form: SettingsForm | None = None,
                    message: str | None = None, error: str | None = None,
                    version: int | None = None, active: str | None = None,
                    verification: dict[str, Any] | None = None,
                    test_problem: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "test_problem": test_problem,
    })
    return values


def settings_form(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login/settings."""
    return render_settings(request)


def _tab_action(action: object) -> tuple[str, str] | None:
    """``("verify", "bitbucket")`` for ``verify-bitbucket``; None for other actions."""
    if not isinstance(action, str):
        return None
    kind, _sep, name = action.partition("-")
    return (kind, name) if kind in TAB_ACTIONS and name else None


def _switched_on(post: Any, name: str) -> Any:
    """The post with ``name``'s switch turned on by the editor (the "Show it" button)."""
    fields = post.copy()
    fields[f"{name}.enabled"] = "on"
    fields[f"{name}.enabled_shown"] = ""
    fields[f"{name}.enabled_choice"] = ""
    return fields


def visitors_see(request: Any, document: dict[str, Any], providers: list[Provider]) -> str:
    """What the login page offers with ``document``, in words: "Log in with Bitbucket,
    username and password"."""
    ways = [translate(request, _("Log in with ${title}", mapping={"title": button.title}))
            for button in login_buttons(document, providers)]
    if request.registry.getUtility(IUserAdapter).password_login:
        ways.append(translate(request, _("username and password")))
    return ", ".join(ways) if ways else translate(request, _("no way to sign in"))


def settings_submit(request: Any):
    """POST /editor/system-pages/login/settings: OK, Apply, Preview or Save, and the
    buttons of one tab (Verify credentials, Test login, Show it, switching tabs)."""
    refuse_oversized_form(request)
    action = request.POST.get("action")
    tab_action = _tab_action(action)
    if action not in ACTIONS and tab_action is None:
        raise HTTPBadRequest("Unknown action.")
    expected = posted_draft_version(request)
    service = LoginSettingsService(request)
    post = request.POST
    message = None
    if tab_action is not None and tab_action[0] == "show":
        post = _switched_on(post, tab_action[1])
        provider = _provider(service, tab_action[1])
        message = _("${title} is switched on: visitors see its button once you Save.",
                    mapping={"title": provider.title})
        action = "ok"
    try:
        form = service.parse(post)
    except BadSettingsForm as exc:
        raise HTTPBadRequest(str(exc)) from None
    tab = str(request.POST.get("tab", ""))
    if tab_action is not None and tab_action[0] == "tab":
        # Switching tabs without JavaScript: the typed values come along, unchecked.
        quiet = SettingsForm(document=form.document, values=form.values,
                             pending=form.pending, errors={})
        return render_settings(request, form=quiet, version=expected,
                               active=_provider(service, tab_action[1]).name)
    if not form.ok:
        request.response.status_int = 400
        first = next((name for name, errors in form.errors.items() if errors), tab)
        return render_settings(request, form=form, version=expected, active=first,
                               error=_("Please correct the marked fields. Nothing was stored."))
    if tab_action is not None and tab_action[0] == "verify":
        return _verify(request, service, form, tab_action[1], expected)
    if tab_action is not None and tab_action[0] == "test":
        return _start_test_login(request, service, form, tab_action[1], expected)
    if action == "ok":
        return render_settings(
            request, form=form, version=expected, active=tab,
            message=message or _("Checked. Nothing is stored yet: Apply keeps these values "
                                 "as the draft, Save publishes them."))
    userid = request.authenticated_userid
    before, current = service.editable_document()
    if action == "preview" and current == expected and not changed_settings(
            before, form.document, service.providers, service.box):
        # The stored draft already is what the preview shows: no new version, no audit row.
        return HTTPSeeOther(request.route_url("cms_social_login.editor_preview"))
    try:
        if action == "save":
            live = service.published()
            before = live.document if live is not None else {}
            warnings = warm_providers(request, form.document)  # before any write lock
            record = service.publish(form, expected, userid)
            version = record.version
            _flash_published(request, service, record.version, form.document, warnings)
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
        return HTTPSeeOther(site_route_url(request, "cms_social_login.editor_preview"))
    return HTTPSeeOther(site_route_url(request, "cms_social_login.editor_settings",
                                       _query={"tab": tab} if tab else {}))


def _flash_published(request: Any, service: LoginSettingsService, version: int,
                     document: dict[str, Any], warnings: list[str]) -> None:
    request.session.flash(translate(request, _(
        "Published version ${version}. Visitors now see: ${ways}.",
        mapping={"version": version,
                 "ways": visitors_see(request, document, service.providers)})))
    for warning in warnings:
        request.session.flash(translate(request, warning), queue="warning")


def _provider(service: LoginSettingsService, name: str) -> Provider:
    provider = next((p for p in service.providers if p.name == name), None)
    if provider is None:
        raise HTTPBadRequest("There is no such provider.")
    return provider


def _verify(request: Any, service: LoginSettingsService, form: SettingsForm, name: str,
            expected: int) -> dict[str, Any]:
    """The Verify credentials button of one tab: ask the provider, store nothing."""
    provider = _provider(service, name)
    if not can_verify(provider):
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


def _start_test_login(request: Any, service: LoginSettingsService, form: SettingsForm,
                      name: str, expected: int):
    """The Test login button of one tab: off to the provider with the typed values."""
    provider = _provider(service, name)
    config = ProviderConfig.from_document(form.document, name)
    try:
        url = test_login.begin(request, provider, config, test_login.FROM_TAB)
    except test_login.TestLoginRefused as exc:
        request.response.status_int = 400
        return render_settings(request, form=form, version=expected, active=name,
                               test_problem={"provider": name,
                                             "message": translate(request, exc.message)})
    response = HTTPFound(location=url)
    response.cache_control = "no-store"
    return response


def start_test_login_from_preview(request: Any):
    """POST .../login/test-login/{provider}: a Test login with the stored draft."""
    refuse_oversized_form(request)
    service = LoginSettingsService(request)
    provider = _provider(service, request.matchdict["provider"])
    document, _version = service.editable_document()
    config = ProviderConfig.from_document(document, provider.name)
    try:
        url = test_login.begin(request, provider, config, test_login.FROM_PREVIEW)
    except test_login.TestLoginRefused as exc:
        request.response.status_int = 400
        return render_to_response(PREVIEW_TEMPLATE, preview_values(
            request, error=translate(request, exc.message)), request=request)
    response = HTTPFound(location=url)
    response.cache_control = "no-store"
    return response


def finish_test_login(request: Any, provider_name: str, params: dict[str, str]) -> None:
    """The callback of a Test login (handed over by the SSO callback): finish it and keep
    the result for the Test login page. Only an editor's session holds a pending test."""
    permission = request.registry.social_login_settings.editor_permission
    # The callback's factory runs this before the request has a context: check the
    # permission against the site's root, as the editor pages' routes do.
    if not request.has_permission(permission, context=DefaultRootFactory(request)):
        raise HTTPForbidden()
    test_login.finish(request, provider_name, params)


def test_login_result_page(request: Any) -> dict[str, Any]:
    """GET .../login/test-login: the last Test login's result."""
    values = editor_shell(request, "test-login")
    values["result"] = test_login.last_result(request)
    return values


def preview_values(request: Any, *, error: str | None = None) -> dict[str, Any]:
    """The values of the preview: the login page as the draft makes it, the buttons that
    would be there if switched on, and the draft's version for its Save."""
    service = LoginSettingsService(request)
    document, version = service.editable_document()
    values = login_page(request, document=document, preview=True)
    values["login"]["hidden"] = _hidden_buttons(document, service.providers)
    values.update({
        "csrf_token": get_csrf_token(request),
        "draft_version": version,
        "has_draft": service.draft() is not None,
        "draft_differs": service.draft_differs(),
        "testable": [p for p in service.providers
                     if ProviderConfig.from_document(document, p.name).is_complete(p)],
        "error": error,
        "flash": request.session.pop_flash(),
    })
    return values


def preview(request: Any) -> dict[str, Any]:
    """GET /editor/system-pages/login/preview: the login page as the draft would make it."""
    return preview_values(request)


def preview_save(request: Any):
    """POST .../login/preview: Save from the preview publishes exactly the previewed
    draft (its version is checked: a draft changed in between is refused)."""
    refuse_oversized_form(request)
    expected = posted_draft_version(request)
    service = LoginSettingsService(request)
    live = service.published()
    before = live.document if live is not None else {}
    draft = service.draft()
    warnings = warm_providers(request, draft.document) if draft is not None else []
    try:
        record = service.publish_draft(expected, request.authenticated_userid)
    except VersionConflict:
        request.response.status_int = 409
        return preview_values(request, error=translate(request, _(
            "The draft changed since this preview was shown, so nothing was published. "
            "This is the preview of the draft as it is now: look at it, then Save again.")))
    _flash_published(request, service, record.version, record.document, warnings)
    audit.record(request, audit.EDITOR, "save", detail={
        "version": record.version, "from": "preview",
        "changed": changed_settings(before, record.document, service.providers,
                                    service.box)})
    return HTTPSeeOther(site_route_url(request, "cms_social_login.editor_settings"))


def includeme(config: Configurator) -> None:
    """Register the editor views under the editor permission, CSRF-checked."""
    permission = config.registry.social_login_settings.editor_permission
    pages = [
        (editor_home, "cms_social_login.editor_home", "editor_home.jinja2"),
        (system_pages, "cms_social_login.editor_system_pages", "editor_system_pages.jinja2"),
        (login_system_page, "cms_social_login.editor_login_page", "editor_login_page.jinja2"),
        (settings_form, "cms_social_login.editor_settings", "editor_settings.jinja2"),
        (preview, "cms_social_login.editor_preview", "editor_preview.jinja2"),
        (test_login_result_page, "cms_social_login.editor_test_login", "editor_test_login.jinja2"),
    ]
    for view, route, template in pages:
        config.add_view(view, route_name=route, request_method="GET", permission=permission,
                        renderer=f"cms_social_login/{template}", http_cache=0)
    config.add_view(settings_submit, route_name="cms_social_login.editor_settings",
                    request_method="POST", permission=permission, require_csrf=True,
                    renderer=SETTINGS_TEMPLATE, http_cache=0)
    config.add_view(preview_save, route_name="cms_social_login.editor_preview",
                    request_method="POST", permission=permission, require_csrf=True,
                    renderer=PREVIEW_TEMPLATE, http_cache=0)
    config.add_view(start_test_login_from_preview, route_name="cms_social_login.editor_test_start",
                    request_method="POST", permission=permission, require_csrf=True,
                    http_cache=0)

"""What the add-on's views share: the signed-in user, the login page's values, and the
refusal of oversized forms (every view that reads a form body calls it first)."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPBadRequest

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..redirects import safe_came_from
from ..services.identities import linked_providers
from ..services.published import live_buttons
from ..session import has_session, login_form_token
from ..sites import site_key

#: The template of the login page (/login, its preview, a failed login's answer).
LOGIN_TEMPLATE = "cms_social_login/login.jinja2"
#: The flash queue of "You are logged out" (shown once on /login).
LOGGED_OUT_QUEUE = "cms_social_login.logged_out"
#: The flash queue of the message of a login that just failed (shown once on /login).
LOGIN_FAILED_QUEUE = "cms_social_login.login_failed"


def current_user(request: Any):
    """The signed-in ``SiteUser``, or None."""
    userid = request.authenticated_userid
    if userid is None:
        return None
    return request.registry.getUtility(IUserAdapter).get_user(request, userid)


def login_page(request: Any, *, message: str | None = None, error: str | None = None,
               document: dict | None = None, preview: bool = False,
               login_name: str = "") -> dict[str, Any]:
    """The values of the login page template (``document`` None means the live one)."""
    adapter = request.registry.getUtility(IUserAdapter)
    came_from = safe_came_from(request.params.get("came_from"))
    user = current_user(request)
    if message is None and not preview and has_session(request) \
            and request.session.peek_flash(LOGGED_OUT_QUEUE):
        # peek first: popping an empty queue would rewrite every visitor's cookie
        message = request.session.pop_flash(LOGGED_OUT_QUEUE)[0]
    card = {
        "providers": live_buttons(request, document),
        "came_from": came_from,
        "password_login": adapter.password_login,
        "message": translate(request, message) if message else None,
        "error": translate(request, error) if error else None,
        "preview": preview,
        "login_name": login_name,
        "csrf_token": login_form_token(request),
        # Signed in already: the page says who, with Continue and Log out, and offers to
        # connect the providers not linked yet.
        "signed_in": None if preview else user,
        "linked": (linked_providers(request.social_login_dbsession, site_key(request),
                                    user.userid)
                   if user is not None and not preview else set()),
    }
    return {"login": card, "preview": preview, "user": user}


def refuse_oversized_form(request: Any) -> None:
    """400 for a form body over ``cms_social_login.max_form_bytes`` (read no further)."""
    limit = request.registry.social_login_settings.max_form_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise HTTPBadRequest(translate(request, _("The form is too large.")))
    if length is None and request.is_body_readable:
        raise HTTPBadRequest(translate(request, _("A form must be sent with its length.")))


def posted_draft_version(request: Any) -> int:
    """The version of the draft a posted editor form was shown with (``draft_version``);
    400 when the form lacks it (a change must say which draft it changes)."""
    try:
        return int(request.POST.get("draft_version", ""))
    except ValueError:
        raise HTTPBadRequest("The form is missing its version; reload the page.") from None

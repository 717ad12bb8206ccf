from pyramid.authentication import SessionAuthenticationHelper
from pyramid.security import Allowed, Denied

from .models import User


class SecurityPolicy:
    """The signed-in user's id is in the session; editors may edit the login settings."""

    def __init__(self):
        self.helper = SessionAuthenticationHelper()

    def identity(self, request):
        userid = self.helper.authenticated_userid(request)
        return request.dbsession.get(User, int(userid)) if str(userid).isdigit() else None

    def authenticated_userid(self, request):
        user = request.identity
        return None if user is None else str(user.id)

    def permits(self, request, context, permission):
        user = request.identity
        if permission == "cms_social_login.edit" and user is not None and user.is_editor:
            return Allowed("editor")
        return Denied("editors only")

    def remember(self, request, userid, **kw):
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        return self.helper.forget(request, **kw)

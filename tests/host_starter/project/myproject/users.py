from sqlalchemy import select

from cms_social_login.users import SiteUser, UserAdapterBase

from .models import User


class UserAdapter(UserAdapterBase):
    """Accounts are rows of the site's own User model, in the site's request.dbsession.

    UserAdapterBase gives the optional parts their defaults: no page to set a password
    (password_page_url), so the add-on never suggests setting one."""

    password_login = True

    def get_user(self, request, userid):
        user = request.dbsession.get(User, int(userid)) if userid.isdigit() else None
        if user is None:
            return None
        return SiteUser(userid=str(user.id), display_name=user.name, email=user.email)

    def create_user(self, request, profile, provider_name):
        name = profile.get("preferredUsername") or profile.get("displayName") or provider_name
        taken = request.dbsession.scalar(select(User.id).where(User.name == name))
        user = User(name=f"{name}-{provider_name}" if taken else name,
                    email=profile.get("verifiedEmail"))
        request.dbsession.add(user)
        request.dbsession.flush()
        return str(user.id)

    def authenticate(self, request, login, password):
        user = request.dbsession.scalar(select(User).where(User.name == login))
        return str(user.id) if user is not None and user.check_password(password) else None

    def has_password(self, request, userid):
        user = request.dbsession.get(User, int(userid)) if userid.isdigit() else None
        return bool(user is not None and user.password_hash)

    def find_user_by_email(self, request, email):
        user = request.dbsession.scalar(select(User).where(User.email == email))
        return None if user is None else str(user.id)

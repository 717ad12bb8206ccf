"""The parts a host site or a plugin may swap, as zope.interface interfaces."""

from zope.interface import Attribute, Interface


class IProvider(Interface):
    """A login provider plugin (see :class:`cms_social_login.providers.base.Provider`)."""

    name = Attribute("Unique short name, used in URLs and settings (e.g. 'bitbucket').")
    title = Attribute("Human name shown on tabs and buttons (e.g. 'Bitbucket').")
    fields = Attribute("Sequence of Field: the settings the editor fills in its tab.")

    def authorize_redirect(login):
        """Return the URL at the provider where the visitor approves the login (``login``:
        a :class:`cms_social_login.providers.base.LoginContext`)."""

    def complete(login, params):
        """Finish the login from the callback's ``params``; return a velruse result."""


class IProviderRegistry(Interface):
    """The ordered collection of providers offered by this site."""


class ISecretBox(Interface):
    """Encrypts and decrypts secrets stored at rest."""

    def encrypt(plaintext):
        """Return an opaque token."""

    def decrypt(token, ttl=None):
        """Return the plaintext; raise on tampering or expiry."""


class IUserAdapter(Interface):
    """The bridge between social logins and the host site's own user accounts."""

    password_login = Attribute("True when ``authenticate`` checks a username and password.")

    def get_user(request, userid):
        """Return a ``SiteUser`` for ``userid``, or None if no such user exists."""

    def create_user(request, profile, provider_name):
        """Create a local account from a Portable Contacts ``profile``; return its userid."""

    def authenticate(request, login, password):
        """Return the userid for a correct username and password, else None."""

    def find_user_by_email(request, email):
        """Return the userid of the account whose confirmed address is ``email``, else None.

        Used only when the editor enables "link by confirmed email" for a provider.
        """

    def has_password(request, userid):
        """Whether the account can sign in without any provider (optional; default no)."""

    def password_page_url(request, userid):
        """The URL of the site's page where the account sets a password, or None when the
        site has none (optional; default None). The connected-accounts page suggests setting
        a password only when there is such a page.

        ``cms_social_login.users.UserAdapterBase`` declares every optional part with its
        default; an adapter that subclasses it writes only what it changes.
        """

    def user_exists_clause(userid):
        """A SQL boolean expression, true when the account whose userid is the column
        expression ``userid`` exists (optional; default None). Only for accounts kept in
        the add-on's own database: the returning user's login then updates the identity
        and checks the account in one statement instead of also calling ``get_user``.
        """

"""The OAuth 2.0 provider emulator of the test kit, under its published name.

``cms_social_login.testing.oauth2_emulator`` is part of the kit's public API
(provider packages subclass :class:`OAuth2Emulator` from here, see
docs/writing-a-provider.md); the code lives in :mod:`cms_social_login.testing.oauth2`,
one module per concern, and this module re-exports its public names
(``Abort``, ``AccessToken``, ``AuthorizationCode``, ``Client``, ``Failure``,
``LoggedRequest``, ``OAuth2Emulator``, ``RefreshToken``).
"""

from .oauth2 import *  # noqa: F403  (the names of oauth2.__all__)
from .oauth2 import __all__  # noqa: F401

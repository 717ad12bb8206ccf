"""A "Forge" tab, listed before GitHub's, with a field labelled like GitHub's."""

from cms_social_login.providers import Field, OAuth2Provider


class ForgeProvider(OAuth2Provider):
    name = "forge"
    title = "Forge"
    default_authorize_url = "https://forge.example/login/oauth/authorize"
    default_token_url = "https://forge.example/login/oauth/access_token"
    default_api_url = "https://forge.example/api/v1"

    def extra_fields(self):
        return (Field("teams", "Allowed organizations"),)

    def fetch_profile(self, token, values):
        raise NotImplementedError

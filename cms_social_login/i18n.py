"""Translation string factory for the package's user-facing words."""

from pyramid.i18n import TranslationStringFactory

_ = TranslationStringFactory("cms_social_login")

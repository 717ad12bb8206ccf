"""The registry of providers and the ``add_social_login_provider`` directive."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver
from zope.interface import implementer

from ..entry_points import installed_entry_points
from ..interfaces import IProviderRegistry
from ..settings import PROVIDER_GROUP, SocialLoginSettings
from .base import Provider
from .compat import check_provider_class

ProviderFactory = Callable[..., Provider]


@implementer(IProviderRegistry)
class ProviderRegistry:
    """The providers this site offers, in registration order, by name."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def add(self, provider: Provider) -> None:
        """Add ``provider`` (its name must be new)."""
        if provider.name in self._providers:
            raise ConfigurationError(f"two providers are named {provider.name!r}")
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider | None:
        """The provider called ``name``, or None."""
        return self._providers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)


def get_provider_registry(registry) -> ProviderRegistry:
    """The site's :class:`ProviderRegistry`."""
    return registry.getUtility(IProviderRegistry)


def add_social_login_provider(config: Configurator, factory: ProviderFactory | str,
                              name: str | None = None, title: str | None = None) -> None:
    """Offer a provider on this site.

    ``factory`` is a :class:`Provider` subclass (or a dotted name of one, or any callable
    taking ``(settings, name=...)``); ``name`` defaults to the class's ``name``. ``title``
    (passed on as ``title=...`` only when given) names this instance on its tab and
    button, e.g. two OpenID Connect providers "Google" and "Keycloak". Two
    providers of the same name conflict, unless one comes from the host's own
    configuration, which wins over an included add-on's. A provider left out of the
    ``cms_social_login.providers`` setting is not offered.
    """
    factory = DottedNameResolver(package=config.package).maybe_resolve(factory)
    provider_class = factory if isinstance(factory, type) and issubclass(factory, Provider) \
        else None
    provider_name = name or (provider_class.name if provider_class else None)
    if not provider_name:
        raise ConfigurationError(f"provider {factory!r} has no name; pass name=...")
    settings: SocialLoginSettings = config.registry.social_login_settings
    if settings.providers is not None and provider_name not in settings.providers:
        return

    options = {"title": title} if title else {}

    def register() -> None:
        provider = factory(settings, name=provider_name, **options)
        problem = check_provider_class(type(provider), provider_name)
        if problem:
            raise ConfigurationError(problem)
        get_provider_registry(config.registry).add(provider)

    shown = title or (provider_class.title if provider_class else provider_name)
    intr = config.introspectable("social login providers", provider_name, shown,
                                 "social login provider")
    intr["factory"] = factory
    intr["name"] = provider_name
    config.action(("cms_social_login.provider", provider_name), register,
                  introspectables=(intr,))


def include_entry_point_providers(config: Configurator) -> None:
    """Add every provider installed under the ``cms_social_login.providers`` group.

    An entry point gives one provider named after it, or several when its class says so
    through ``instance_names(settings, name)`` (see :meth:`Provider.instance_names`).
    A provider class that does not meet provider API 1.0 stops the start with a message
    saying what to change (:mod:`.compat`).
    """
    settings: SocialLoginSettings = config.registry.social_login_settings
    for entry_point in sorted(installed_entry_points(PROVIDER_GROUP), key=lambda e: e.name):
        try:
            factory = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - say which plugin broke, then stop
            raise ConfigurationError(
                f"cannot load provider entry point {entry_point.name!r} "
                f"({entry_point.value}): {exc}"
            ) from exc
        names = factory.instance_names(settings, entry_point.name) \
            if isinstance(factory, type) and issubclass(factory, Provider) else None
        for name in names or (entry_point.name,):
            config.add_social_login_provider(factory, name=name)

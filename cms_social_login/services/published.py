"""What the live site uses: the published document, read once per request."""

from __future__ import annotations

from typing import Any

from ..models import PUBLISHED
from ..providers.registry import get_provider_registry
from .login_settings import enabled_providers, read_stage


def load_published_document(request: Any) -> dict[str, Any]:
    """The published document (empty before the first Save): one primary-key read."""
    record = read_stage(request.dbsession, PUBLISHED)
    return dict(record.document) if record is not None else {}


def published_document(request: Any) -> dict[str, Any]:
    """The published document of this request (read at most once per request)."""
    return request.social_login_published


def live_buttons(request: Any, document: dict[str, Any] | None = None) -> list[Any]:
    """The providers a visitor may use, in button order, from ``document`` (default: live)."""
    if document is None:
        document = published_document(request)
    registry = get_provider_registry(request.registry)
    return [provider for provider, _ in enabled_providers(document, registry)]

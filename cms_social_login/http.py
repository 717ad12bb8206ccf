"""Outbound HTTP for providers: one pooled session per provider, timeouts, bounded bodies."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests

from .i18n import _

log = logging.getLogger(__name__)

#: Bodies larger than this are refused unread (a profile or token answer is a few KiB).
MAX_BODY_BYTES = 1_000_000


class ProviderError(Exception):
    """A provider could not complete a login.

    ``message`` is plain words for the visitor; ``cause`` is the operator's detail for the
    log (never a secret or a token). ``outcome`` names the failure in the audit log:
    ``"error"``, or ``"refused"`` when the provider's account is not allowed here.
    """

    outcome = "error"

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(cause)
        self.message = message
        self.cause = cause


class AccessRestricted(ProviderError):
    """The provider vouched for the visitor, but the site's rules refuse them.

    For example a Bitbucket account that is not a member of a workspace the editor
    allowed. The audit log records it as the outcome "refused".
    """

    outcome = "refused"


class RefreshTokenRejected(ProviderError):
    """The token endpoint refused a refresh token (``invalid_grant``): it expired, was
    revoked, or was already used (providers that rotate refresh tokens)."""


@dataclass
class HttpResponse:
    """What a provider needs of an HTTP answer: the status and the decoded JSON body."""

    status: int
    data: Any
    url: str


class HttpClient:
    """Calls a provider's endpoints over one ``requests.Session`` (connection reuse).

    Every call has ``timeout`` seconds (connect and read) and reads at most
    ``max_bytes`` of the body; network failures and non-JSON bodies become
    :class:`ProviderError` naming ``provider_title``.
    """

    def __init__(self, provider_title: str, timeout: float,
                 max_bytes: int = MAX_BODY_BYTES) -> None:
        self.provider_title = provider_title
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "cms_social_login"
        self.session.headers["Accept"] = "application/json"

    def request_json(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        """Send the request and decode a JSON answer of any status."""
        title = {"title": self.provider_title}
        unreachable = _("We could not reach ${title}. Please try again in a moment.",
                        mapping=title)
        try:
            with self.session.request(method, url, timeout=self.timeout, stream=True,
                                      allow_redirects=False, **kwargs) as response:
                body = self._read(response)
                status = response.status_code
        except requests.Timeout as exc:
            raise ProviderError(unreachable, f"{method} {url}: timed out after "
                                             f"{self.timeout}s") from exc
        except requests.RequestException as exc:
            raise ProviderError(unreachable,
                                f"{method} {url}: {type(exc).__name__}") from exc
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            if status >= 400:  # an error page: the status says enough
                return HttpResponse(status=status, data=None, url=url)
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                f"{method} {url}: HTTP {status} with a body that is not JSON",
            ) from exc
        return HttpResponse(status=status, data=data, url=url)

    def _read(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise ProviderError(
                _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                f"{response.request.method} {response.url}: body of {declared} bytes "
                f"exceeds {self.max_bytes}",
            )
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ProviderError(
                    _("${title} sent an answer we could not read. Please try again.",
                  mapping={"title": self.provider_title}),
                    f"{response.request.method} {response.url}: body exceeds "
                    f"{self.max_bytes} bytes",
                )
            chunks.append(chunk)
        return b"".join(chunks)

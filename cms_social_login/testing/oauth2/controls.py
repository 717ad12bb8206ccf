"""What a test drives: armed failures, the request log, expiry and reset.

An armed failure (:meth:`ControlsMixin.fail`) answers the next requests to one
endpoint with a status and body of the test's choosing, optionally after a
delay that :meth:`~.serving.ServingMixin.stop` cuts short; every request is
logged as a :class:`~.records.LoggedRequest` before it is served.
"""

from __future__ import annotations

import json

import webob

from .records import Failure, LoggedRequest
from .state import EmulatorState


class ControlsMixin(EmulatorState):
    """Fault injection, the request log and the clock-free expiry controls."""

    def fail(
        self,
        endpoint: str,
        status: int | None = 500,
        body: bytes | str | dict | list | None = None,
        content_type: str = "application/json",
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``endpoint`` fail.

        ``endpoint`` is an endpoint name ("authorize", "token" or a key of
        :attr:`api_routes`' values).  Each such request sleeps ``delay``
        seconds, then answers ``status`` with ``body`` (bytes/str sent as is,
        dict/list as JSON, ``None``: the provider's error envelope).  With
        ``status=None`` the request is only delayed, then served normally.
        """
        if endpoint not in set(self.routes().values()):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        with self._lock:
            self.failures.setdefault(endpoint, []).append(
                Failure(status, body, content_type, delay, times)
            )

    def reset(self) -> None:
        """Forget failures, codes, tokens and the log; keep clients, users, current_user."""
        with self._lock:
            self.failures.clear()
            self.codes.clear()
            self.tokens.clear()
            self.refresh_tokens.clear()
            self.log.clear()

    def expire_tokens(self, *tokens: str) -> None:
        """Make the given access tokens (all when none given) expired."""
        with self._lock:
            past = self._now() - 1
            for token in tokens or list(self.tokens):
                self.tokens[token].expires_at = past

    def expire_codes(self) -> None:
        """Make every outstanding authorization code expired."""
        with self._lock:
            for code in self.codes.values():
                code.issued_at -= self.code_ttl + 1

    def requests_to(self, endpoint: str) -> list[LoggedRequest]:
        """The logged requests that reached ``endpoint``."""
        with self._lock:
            return [r for r in self.log if r.endpoint == endpoint]

    def _log(self, request: webob.Request, endpoint: str | None) -> None:
        body = request.body
        form: dict[str, str] = {}
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = {k: v for k, v in request.POST.items() if isinstance(v, str)}
        record = LoggedRequest(
            endpoint=endpoint,
            method=request.method,
            path=request.path_info,
            query=dict(request.GET.items()),
            form=form,
            headers=dict(request.headers.items()),
            body=body,
        )
        with self._lock:
            self.log.append(record)

    def _take_failure(self, endpoint: str) -> Failure | None:
        with self._lock:
            queue = self.failures.get(endpoint)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _failure_response(self, failure: Failure) -> webob.Response:
        body = failure.body
        if body is None:
            body = self.error_body(failure.status or 500, "Injected failure")
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        response = webob.Response(status=failure.status, body=body)
        response.headers["Content-Type"] = failure.content_type
        return response

"""Serving the emulator on an ephemeral 127.0.0.1 port, in a daemon thread (LiveServer)."""

from __future__ import annotations

from typing import TypeVar

from ..live_server import LiveServer
from .state import EmulatorState

_Served = TypeVar("_Served", bound="ServingMixin")


class ServingMixin(EmulatorState):
    """Start, stop, and the absolute URLs of the running server."""

    def start(self: _Served, port: int = 0) -> _Served:
        """Serve the app on 127.0.0.1 (``port``, default an ephemeral one) in a daemon
        thread."""
        if self._live is None:
            self._live = LiveServer(self, port=port, threads=8,
                                    name=f"{type(self).__name__}-server",
                                    stopping=self._stopping)
        return self

    def stop(self) -> None:
        """Stop serving (pending delayed responses are cut short)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    @property
    def port(self) -> int:
        """The port served on (RuntimeError when not started)."""
        if self._live is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start()")
        return self._live.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        """The authorize endpoint's absolute URL, for the site's settings."""
        return self.base_url + self.authorize_path

    @property
    def token_url(self) -> str:
        """The token endpoint's absolute URL, for the site's settings."""
        return self.base_url + self.token_path

    @property
    def api_url(self) -> str:
        """Where the API lives (``base_url`` + :attr:`api_prefix`), for the site's settings."""
        return self.base_url + self.api_prefix

    def __enter__(self: _Served) -> _Served:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""Serving the emulator on an ephemeral 127.0.0.1 port, in a daemon thread (waitress)."""

from __future__ import annotations

import threading
from typing import TypeVar

from .state import EmulatorState

_Served = TypeVar("_Served", bound="ServingMixin")


class ServingMixin(EmulatorState):
    """Start, stop, and the absolute URLs of the running server."""

    def start(self: _Served, port: int = 0) -> _Served:
        """Serve the app on 127.0.0.1 (``port``, default an ephemeral one) in a daemon
        thread."""
        import waitress  # a test dependency; imported lazily

        if self._thread is not None:
            return self
        self._stopping.clear()
        server = waitress.create_server(self, host="127.0.0.1", port=port, threads=8)
        self._server = server

        def serve() -> None:
            from waitress import wasyncore

            try:
                while not self._stopping.is_set():
                    wasyncore.loop(timeout=0.5, map=server._map, count=1)
            finally:
                server.task_dispatcher.shutdown(timeout=2)
                wasyncore.close_all(server._map)

        self._thread = threading.Thread(
            target=serve, name=f"{type(self).__name__}-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (pending delayed responses are cut short)."""
        if self._thread is None:
            return
        self._stopping.set()
        try:
            self._server.pull_trigger()
        except OSError:
            pass
        self._thread.join(timeout=10)
        self._thread = None
        self._server = None

    @property
    def port(self) -> int:
        """The port served on (RuntimeError when not started)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start()")
        return int(self._server.effective_port)

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

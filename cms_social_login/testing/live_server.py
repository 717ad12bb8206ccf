"""Serving a WSGI app on 127.0.0.1 for a test: waitress in a daemon thread.

The emulators (:meth:`~cms_social_login.testing.oauth2.OAuth2Emulator.start`) and
browser tests' sites are served this way, so that ``requests`` and a real browser reach
them over loopback.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["LiveServer"]


class LiveServer:
    """``app`` served by waitress on 127.0.0.1 (``port``, default a free one) from now
    until :meth:`stop`.

    ``stopping`` (an event of the caller's, set by :meth:`stop`) lets the app cut its own
    waits short when the server stops.
    """

    def __init__(self, app: Any, *, port: int = 0, threads: int = 8,
                 name: str = "live-server", stopping: threading.Event | None = None) -> None:
        import waitress  # a test dependency; imported lazily

        self.stopping = stopping if stopping is not None else threading.Event()
        self.stopping.clear()
        self._server = waitress.create_server(app, host="127.0.0.1", port=port,
                                              threads=threads)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port served on."""
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        from waitress import wasyncore

        server = self._server
        try:
            while not self.stopping.is_set():
                wasyncore.loop(timeout=0.5, map=server._map, count=1)
        finally:
            server.task_dispatcher.shutdown(timeout=2)
            wasyncore.close_all(server._map)

    def stop(self) -> None:
        """Stop serving and wait (at most 10 s) for the thread to end."""
        self.stopping.set()
        try:
            self._server.pull_trigger()
        except OSError:
            pass
        self._thread.join(timeout=10)

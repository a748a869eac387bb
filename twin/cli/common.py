"""Settings and helpers shared by the CLI's command modules: the one place settings are read."""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import BaseModel, Field, field_validator, model_validator
from rich.console import Console

from twin.embedded import EmbeddedRedis, port_free
from twin.errors import StoreAccessError
from twin.store import TwinStore
from twin.store.urls import check_tls_files, with_tls

__all__ = [
    "DEFAULT_CONFIG",
    "REDIS_SCHEMES",
    "Settings",
    "console",
    "err_console",
    "fail",
    "open_store",
    "print_json",
    "redis_url_or_embedded",
    "redis_url_problem",
    "settings",
    "start_viewer",
]

console = Console()
err_console = Console(stderr=True)

#: The demo plant shipped with the package.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo-plant.yaml"


class Settings(BaseModel):
    """Global settings, read once from options/environment by the root command."""

    redis_url: str | None = Field(default=None, description="Redis to use; None: an embedded one")
    plant: str | None = None
    verbose: bool = False
    #: TLS files for a ``rediss://`` URL; folded into :attr:`redis_url`'s query, so one URL carries them.
    redis_tls_ca: Path | None = None
    redis_tls_cert: Path | None = None
    redis_tls_key: Path | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        # Checked here, once, so a typo is one clear line instead of the client library's ValueError.
        if url is None:
            return None
        problem = redis_url_problem(url)
        if problem:
            raise ValueError(problem)
        return url

    @model_validator(mode="after")
    def _tls(self) -> Settings:
        tls = (self.redis_tls_ca, self.redis_tls_cert, self.redis_tls_key)
        if self.redis_url is None:
            if any(tls):
                raise ValueError(
                    "TLS files were given without a Redis URL: pass --redis-url rediss://HOST:PORT"
                )
            return self
        try:
            self.redis_url = with_tls(self.redis_url, *tls)
            check_tls_files(self.redis_url)
        except StoreAccessError as exc:
            raise ValueError(str(exc)) from None
        return self


#: URL schemes the Redis client accepts.
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


def redis_url_problem(url: str) -> str | None:
    """What is wrong with a Redis URL (None: nothing we can tell before connecting)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        return (
            f"{url!r} is not a Redis URL: expected redis://HOST:PORT/DB "
            "(or rediss://, unix://PATH, redis+cluster://HOST:PORT[,HOST:PORT])"
        )
    if parts.scheme.endswith("+cluster"):
        return None  # several hosts: twin.store.cluster parses and checks them
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        return f"{url!r} has a bad port ({exc})"
    return None


def settings(ctx: typer.Context) -> Settings:
    """The validated settings the root callback put on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Settings):
        obj = Settings()
        root.obj = obj
    return obj


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line to stderr and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_store(ctx: typer.Context, plant_id: str | None = None) -> TwinStore:
    """A store on the configured Redis (commands that need an existing twin require ``--redis-url``)."""
    s = settings(ctx)
    if not s.redis_url:
        fail("no Redis to read: set REDIS_URL or pass --redis-url (as printed by `twin demo`)")
    store = TwinStore.from_url(s.redis_url, plant_id or s.plant)
    store.ping()
    return store


@contextmanager
def redis_url_or_embedded(ctx: typer.Context) -> Iterator[str]:
    """The configured Redis URL, or an embedded redis-server started for the duration."""
    s = settings(ctx)
    if s.redis_url:
        yield s.redis_url
        return
    with EmbeddedRedis() as server:
        yield server.url


def print_json(data: Any) -> None:
    """JSON to stdout (no rich markup), for scripts."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def start_viewer(
    store: TwinStore, host: str, port: int, note: Callable[[str], None]
) -> Callable[[], None] | None:
    """Start the web viewer (``viz.web``, a child process) on ``host:port``; returns its stop function.

    The viewer is optional at run time: when it cannot start (port taken, renderer missing) ``note`` says
    why, in one line, and ``None`` is returned so that the API or the demo still runs. It is imported here
    because the CLI is the composition root, and late because it is heavy.
    """
    from viz.errors import VizError
    from viz.web import start_web_viewer

    if not port_free(host, port):
        note(f"port {port} is in use; web viewer not started")
        return None
    try:
        handle = start_web_viewer(store, host=host, port=port)
    except (VizError, OSError) as exc:  # it did not come up in time, or could not be run: the rest still runs
        note(f"web viewer did not start: {exc}")
        return None
    return handle.stop

"""Settings and helpers shared by the CLI's command modules: the one place settings are read."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import BaseModel, Field
from rich.console import Console

from twin.embedded import EmbeddedRedis
from twin.store import TwinStore

console = Console()
err_console = Console(stderr=True)

#: The demo plant shipped with the package.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo-plant.yaml"


class Settings(BaseModel):
    """Global settings, read once from options/environment by the root command."""

    redis_url: str | None = Field(default=None, description="Redis to use; None: an embedded one")
    plant: str | None = None
    verbose: bool = False


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

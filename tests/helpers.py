"""Helpers shared by the test files: free ports, running the CLI as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from twin.embedded import free_port
from twin.store import TwinStore

__all__ = ["TWIN", "TWIN_MAIN", "cli_env", "free_port", "run_twin", "url_of"]

# The `twin` console script installed next to this interpreter, as users run it.
TWIN = [str(Path(sys.executable).parent / "twin")]
# The same entry point through the interpreter (what `twin` runs, without the console-script wrapper).
TWIN_MAIN = [sys.executable, "-c", "from twin.cli import main; main()"]


def cli_env(redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """os.environ without REDIS_URL (the test picks where the CLI connects), then ``redis_url``, ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def run_twin(
    *args: str, cmd: list[str] = TWIN, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the CLI (``cmd``, the console script by default) with ``args``; text output captured."""
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)


def url_of(store: TwinStore) -> str:
    """The redis:// URL a store is connected to (for a second client or a subprocess)."""
    kw = store.client.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"

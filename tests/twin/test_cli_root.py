"""The root command's options are accepted anywhere on the line, as DESIGN.md promises."""

from __future__ import annotations

import json
import subprocess
import sys

from twin.cli import hoist_global_options
from twin.store import TwinStore


def test_hoist_moves_root_options_in_front() -> None:
    assert hoist_global_options(["status", "--json", "--redis-url", "redis://x"]) == [
        "--redis-url",
        "redis://x",
        "status",
        "--json",
    ]
    assert hoist_global_options(["status", "--redis-url=redis://x", "-v"]) == [
        "--redis-url=redis://x",
        "-v",
        "status",
    ]
    assert hoist_global_options(["graph", "route", "--model", "A"]) == ["graph", "route", "--model", "A"]
    assert hoist_global_options(["x", "--", "--plant", "p"]) == ["x", "--", "--plant", "p"]


def test_status_takes_redis_url_after_the_command(store: TwinStore, redis_url: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from twin.cli import main; main()",
            "status",
            "--json",
            "--redis-url",
            redis_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["equipment"]
    assert {r["id"] for r in rows} == {e.id for e in store.plant().equipment()}

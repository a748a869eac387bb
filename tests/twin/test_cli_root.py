"""The root command: its options are accepted anywhere on the line, and every command group registers."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import TWIN_MAIN, cli_env, run_twin
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
    out = run_twin("status", "--json", "--redis-url", redis_url, cmd=TWIN_MAIN)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["equipment"]
    assert {r["id"] for r in rows} == {e.id for e in store.plant().equipment()}


def _twin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script's entry point as a user runs it (no REDIS_URL unless given)."""
    return run_twin(*args, cmd=TWIN_MAIN, env=cli_env(**(env or {})))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demand", "set"], "Missing argument"),
        (["plan", "show", "abc"], "VERSION"),
        (["plant", "generate", "--lines", "0"], "--lines"),
        (["graph", "route"], "--model"),
        (["nope"], "nope"),
        (["status", "--nope"], "--nope"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], says: str) -> None:
    out = _twin(*args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines
    assert "--help" in lines[0]  # says where to look
    assert out.stdout == ""


def test_help_and_bare_groups_still_show_help() -> None:
    out = _twin("--help")
    assert out.returncode == 0 and "demand" in out.stdout and "Commands" in out.stdout
    bare = _twin("demand")  # a group without a command: its help, as before
    assert "set" in bare.stdout + bare.stderr and "error" not in bare.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "redis://"),
        ("http://127.0.0.1:6379/0", "redis://"),
        ("redis://127.0.0.1:99999/0", "port"),
        ("redis://127.0.0.1:abc/0", "port"),
    ],
)
def test_a_bad_redis_url_is_one_line(url: str, says: str) -> None:
    for out in (_twin("--redis-url", url, "status"), _twin("status", env={"REDIS_URL": url})):
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        assert lines[0].startswith("error: ") and "REDIS_URL" in lines[0] and says in lines[0], lines


def _commands(group: object, path: str = "twin") -> list[tuple[str, object]]:
    """Every leaf command of a click group, with its full path."""
    subs = getattr(group, "commands", None)
    if subs is None:
        return [(path, group)]
    return [c for name, sub in sorted(subs.items()) for c in _commands(sub, f"{path} {name}")]


def test_every_option_and_argument_of_the_core_commands_is_explained() -> None:
    import typer.main

    from twin.cli import app

    mine = {"twin.cli.core", "twin.cli.plan", "twin.cli.demo", "twin.cli.sim"}
    missing = []
    for path, cmd in _commands(typer.main.get_command(app)):
        callback = getattr(cmd, "callback", None)
        if getattr(callback, "__module__", None) not in mine:
            continue
        for param in getattr(cmd, "params", []):
            if not getattr(param, "help", None):
                missing.append(f"{path} {param.name}")
    assert not missing, missing


def test_every_command_module_registers_its_commands() -> None:
    """A broken import in any command module fails the CLI (and this test), never drops a command."""
    import typer.main

    from twin.cli import COMMAND_MODULES, app

    root = typer.main.get_command(app)
    registered = {getattr(getattr(cmd, "callback", None), "__module__", None) for _p, cmd in _commands(root)}
    assert set(COMMAND_MODULES) <= registered, set(COMMAND_MODULES) - registered
    top = set(getattr(root, "commands", {}))
    expected = {"load", "status", "graph", "plant", "demo", "sim", "adapt", "schedule", "demand", "replan",
                "replanner", "plan", "view", "snapshot", "serve", "token", "bench"}  # fmt: skip
    assert expected <= top, expected - top
    bench = set(getattr(getattr(root, "commands", {})["bench"], "commands", {}))
    assert {"ingest", "replan", "viewer", "api", "browse"} <= bench, bench

"""docker/Dockerfile and docker/compose.yaml are checked without a Docker engine: structure, images,
ports, environment, healthchecks, and that every command is a real ``twin`` command whose options parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.deploy.compose_util import (
    ROOT,
    compose,
    dockerfile,
    exec_form,
    local_args,
    option,
    twin_services,
)
from twin.cli import app
from twin.config import load_plant


def parse_twin(args: list[str]) -> Any:
    """Parse ``twin ARGS`` with the real typer app (options, types, paths) without running it."""
    root: Any = typer.main.get_command(app)
    ctx = root.make_context("twin", [], resilient_parsing=True)
    cmd_name, *rest = args
    cmd = root.get_command(ctx, cmd_name)
    assert cmd is not None, f"`twin {cmd_name}` is not a twin command"
    return cmd.make_context(cmd_name, list(rest), parent=ctx)


# ------------------------------------------------------------------------------------------ Dockerfile
def test_dockerfile_is_slim_non_root_with_healthcheck() -> None:
    ins = dockerfile()
    ops = [i.op for i in ins]
    assert ins[0].op == "FROM" and ins[0].args == "python:3.11-slim"
    run = " ".join(i.args for i in ins if i.op == "RUN")
    assert "libosmesa6" in run and "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run
    assert "pip install ." in run
    users = [i.args for i in ins if i.op == "USER"]
    assert users and users[-1] not in ("root", "0")
    # the user switch comes after every install step, before the process starts
    assert ops.index("USER") > max(k for k, i in enumerate(ins) if i.op == "RUN")
    [hc] = [i.args for i in ins if i.op == "HEALTHCHECK"]
    assert "--interval=" in hc and "--timeout=" in hc and "/healthz" in hc
    assert "EXPOSE" in ops


def test_dockerfile_entrypoint_and_default_command_are_twin() -> None:
    ins = {i.op: i.args for i in dockerfile()}  # last of each
    entry = exec_form(ins["ENTRYPOINT"])
    assert entry[-1] == "twin"
    ctx = parse_twin(exec_form(ins["CMD"]))
    assert ctx.params["host"] == "0.0.0.0"
    expose = ins["EXPOSE"].split()
    assert str(ctx.params["port"]) in expose


def test_dockerfile_copies_only_what_exists_and_dockerignore_keeps_it() -> None:
    copies = [i.args.split() for i in dockerfile() if i.op == "COPY"]
    sources = [s for c in copies for s in c[:-1] if not s.startswith("--")]
    assert {"pyproject.toml", "twin", "adapters", "viz", "configs"} <= set(sources)
    for s in sources:
        assert (ROOT / s).exists(), f"COPY {s}: not in the repository"
    ignore = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    ignore = [ln for ln in ignore if ln and not ln.startswith("#")]
    assert {".git", ".venv", "tests"} <= set(ignore)
    for s in sources:
        assert s not in ignore, f"{s} is copied but .dockerignore drops it"


def test_healthcheck_command_is_valid_python() -> None:
    [hc] = [i.args for i in dockerfile() if i.op == "HEALTHCHECK"]
    words = exec_form(hc[hc.index("CMD") + 3 :])
    assert words[:2] == ["python", "-c"]
    compile(words[2], "<healthcheck>", "exec")


# ------------------------------------------------------------------------------------------ compose
def test_compose_has_the_services_and_official_redis() -> None:
    doc = compose()
    services = doc["services"]
    assert {"redis", "simulator", "adapter-1", "adapter-2", "archive", "api"} <= set(services)
    assert services["redis"]["image"].split(":")[0] == "redis"  # the official image
    assert "build" not in services["redis"]
    for name, svc in twin_services(doc).items():
        assert svc["build"]["dockerfile"] == "docker/Dockerfile", name
        assert (Path(ROOT / "docker") / svc["build"]["context"]).resolve() == ROOT, name
        assert svc["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
    assert {"redis-data", "archive-data"} <= set(doc["volumes"])
    archive_dir = option(services["archive"]["command"], "--data-dir")[0]
    assert option(services["api"]["command"], "--data-dir") == [archive_dir]  # history beyond the stream
    mounts = {n: {v.split(":")[1] for v in s.get("volumes", [])} for n, s in services.items()}
    assert any(archive_dir.startswith(m) for m in mounts["archive"]), mounts["archive"]


@pytest.mark.parametrize("name", ["init", "simulator", "adapter-1", "adapter-2", "archive", "api"])
def test_every_command_is_a_real_twin_command(name: str) -> None:
    svc = compose()["services"][name]
    ctx = parse_twin(local_args(svc["command"]))
    cfg = ctx.params.get("config")
    if cfg is not None:
        load_plant(cfg)  # the plant file the container uses exists here and is valid


def test_healthchecks_and_dependency_conditions() -> None:
    doc = compose()
    services = doc["services"]
    for name, svc in services.items():
        hc: dict[str, Any] = svc.get("healthcheck", {})
        if name == "init":  # a one-shot job: its success is the condition others wait for
            assert hc.get("disable") is True and svc["restart"] == "no"
            continue
        assert hc.get("test", [None])[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert {"interval", "timeout", "retries"} <= set(hc), name
        if hc["test"][1:3] == ["python", "-c"]:
            compile(hc["test"][3], f"<{name} healthcheck>", "exec")
        if hc["test"][1] == "twin":
            parse_twin(hc["test"][2:])
    conditions = {"service_healthy", "service_started", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert not services[dep].get("healthcheck", {}).get("disable"), f"{dep} cannot become healthy"
    # no dependency cycle
    seen: dict[str, int] = {}

    def visit(n: str) -> None:
        assert seen.get(n) != 1, f"dependency cycle through {n}"
        if seen.get(n) == 2:
            return
        seen[n] = 1
        for d in services[n].get("depends_on", {}):
            visit(d)
        seen[n] = 2

    for n in services:
        visit(n)
    api = services["api"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"]) or "/healthz" in " ".join(
        api["healthcheck"]["test"]
    )


def test_ports_match_the_commands() -> None:
    services = compose()["services"]
    api_args = services["api"]["command"]
    published = {p.split(":")[-1] for p in services["api"]["ports"]}
    assert set(option(api_args, "--port")) | set(option(api_args, "--viewer-port")) == published
    assert option(api_args, "--host") == ["0.0.0.0"]
    sim = services["simulator"]
    base = int(option(sim["command"], "--base-port")[0])
    assert option(sim["command"], "--host") == ["0.0.0.0"]
    plant = load_plant(local_args(option(sim["command"], "--config"))[0])
    sim_ports = {str(base + i) for i in range(len(plant.lines))}
    assert set(sim["expose"]) == sim_ports
    hc = " ".join(sim["healthcheck"]["test"])
    assert all(p in hc for p in sim_ports)


def test_the_twin_knows_the_simulators_speed() -> None:
    # The viewer divides wall-clock rates by the time scale `twin load` records: it must be the sim's speed.
    services = compose()["services"]
    assert option(services["init"]["command"], "--time-scale") == option(
        services["simulator"]["command"], "--speed"
    )


def test_adapter_shards_cover_every_line_once() -> None:
    services = compose()["services"]
    adapters = [s for n, s in services.items() if s.get("command", [""])[0] == "adapt"]
    shards = sorted(option(a["command"], "--shard")[0] for a in adapters)
    n = len(adapters)
    assert shards == [f"{i}/{n}" for i in range(1, n + 1)]
    sim = services["simulator"]
    base = int(option(sim["command"], "--base-port")[0])
    plant = load_plant(local_args(option(sim["command"], "--config"))[0])
    want = {line.id: f"opc.tcp://simulator:{base + i}" for i, line in enumerate(plant.lines)}
    for a in adapters:
        got = dict(e.split("=", 1) for e in option(a["command"], "--endpoint"))
        assert got == want  # every line's endpoint points at the simulator's port for it

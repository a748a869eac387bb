"""Reading docker/Dockerfile and docker/compose.yaml, and mapping their commands onto this checkout."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
COMPOSE_CLUSTER = DOCKER / "compose.cluster.yaml"
#: Where the image puts the repository's files (``WORKDIR /app``).
APP = "/app/"


@dataclass
class Instruction:
    """One Dockerfile instruction (continuation lines joined)."""

    op: str
    args: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions in order."""
    out: list[Instruction] = []
    buf = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, args = buf.partition(" ")
        out.append(Instruction(op.upper(), args.strip()))
        buf = ""
    return out


def exec_form(args: str) -> list[str]:
    """``["a", "b"]`` (JSON exec form) or shell form, as a list of words."""
    args = args.strip()
    if args.startswith("["):
        return list(yaml.safe_load(args))
    return shlex.split(args)


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    """A compose file as data (YAML anchors and merge keys resolved)."""
    return dict(yaml.safe_load(path.read_text()))


def check_dependencies(services: dict[str, Any]) -> None:
    """Every dependency exists, uses a valid condition that can be met, and nothing depends on itself."""
    conditions = {"service_healthy", "service_started", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert not services[dep].get("healthcheck", {}).get("disable"), f"{dep} cannot become healthy"
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


def twin_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the sdf-twin image (every one but Redis)."""
    return {n: s for n, s in doc["services"].items() if "build" in s}


def local_args(args: list[str]) -> list[str]:
    """A container command with the image's paths mapped onto this checkout."""
    return [str(ROOT / a[len(APP) :]) if a.startswith(APP) else a for a in args]


def option(args: list[str], name: str) -> list[str]:
    """Every value given to ``name`` in ``args``."""
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]

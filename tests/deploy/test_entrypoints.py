"""The compose services' own commands and healthchecks, run as plain processes (no Docker engine here).

Each container command from docker/compose.yaml is started with the image's paths mapped onto this
checkout, ports moved to free ones, the ``simulator``/``redis`` host names mapped to 127.0.0.1 and an
embedded redis-server standing in for the ``redis`` service. The web viewer is left out (``--no-viewer``:
its own suite covers it). Then every service's compose healthcheck must pass, every tag of the plant must
be mirrored into Redis by the two adapter shards, and SIGTERM must stop each service with exit code 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.compose_util import compose, local_args, option
from tests.faults.harness import TWIN, Proc
from tests.support.wait import wait_until
from twin.config import load_plant
from twin.embedded import EmbeddedRedis, free_port
from twin.store import TwinStore


class PortMap:
    """Container ports -> free local ports, applied to command words and healthcheck snippets."""

    def __init__(self, mapping: dict[int, int]) -> None:
        self.mapping = mapping

    def text(self, s: str) -> str:
        s = s.replace("simulator:", "127.0.0.1:").replace("redis://redis:", "redis://127.0.0.1:")
        return re.sub(r"\b(\d{4,5})\b", lambda m: str(self.mapping.get(int(m.group(1)), m.group(1))), s)

    def args(self, args: list[str]) -> list[str]:
        return [self.text(a) for a in local_args(args)]


def run_healthcheck(test: list[str], pm: PortMap, env: dict[str, str]) -> bool:
    assert test[0] == "CMD"
    words = [sys.executable if w == "python" else TWIN if w == "twin" else pm.text(w) for w in test[1:]]
    return subprocess.run(words, env=env, capture_output=True, timeout=60).returncode == 0


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_compose_services_run_as_processes(tmp_path: Path) -> None:
    services = compose()["services"]
    sim_cmd = services["simulator"]["command"]
    plant = load_plant(local_args(option(sim_cmd, "--config"))[0])
    base = int(option(sim_cmd, "--base-port")[0])
    local_base = free_port(count=len(plant.lines))
    api_port = int(option(services["api"]["command"], "--port")[0])
    mapping = {base + i: local_base + i for i in range(len(plant.lines))} | {api_port: free_port()}
    pm = PortMap(mapping)
    procs: dict[str, Proc] = {}
    with EmbeddedRedis() as redis:
        env = {**os.environ, "REDIS_URL": redis.url}
        try:
            init = subprocess.run([TWIN, *pm.args(services["init"]["command"])], env=env, capture_output=True,
                                  text=True, timeout=120)  # fmt: skip
            assert init.returncode == 0, init.stderr
            for name in ("simulator", "adapter-1", "adapter-2", "archive", "api"):
                args = pm.args(services[name]["command"])
                if name == "api":  # the viewer is covered by its own suite
                    i = args.index("--viewer-port")
                    args[i : i + 2] = ["--no-viewer"]
                if "--data-dir" in args:  # the archive volume: a directory of this test
                    args[args.index("--data-dir") + 1] = str(tmp_path / "archive")
                procs[name] = Proc(
                    [TWIN, *args], tmp_path / f"{name}.out", env={"REDIS_URL": redis.url}
                ).start()
            for name, p in procs.items():
                test = [str(tmp_path / "archive") if w.startswith("/data/") else w
                        for w in services[name]["healthcheck"]["test"]]  # fmt: skip
                healthy = lambda t=test, p=p: run_healthcheck(t, pm, env) or not p.alive()  # noqa: E731
                wait_until(f"{name} healthy", healthy, 150, interval=1.0)
                assert p.alive(), f"{name} died: {p.output()[-2000:]}"
            store = TwinStore.from_url(redis.url, plant.id)

            def mirrored() -> bool:
                return all(
                    set(store.read_tags(e.id)) >= {t.name for t in e.tags()} for e in plant.equipment()
                )

            wait_until("every tag mirrored by the two shards", mirrored, 120, interval=1.0)
            rows = store.status()
            assert len(rows) == len(plant.equipment())
            assert all(r["quality"] in ("good", "uncertain") for r in rows), [
                (r["id"], r["quality"]) for r in rows if r["quality"] not in ("good", "uncertain")
            ]
            store.client.close()
            files = lambda: list((tmp_path / "archive" / "changes").rglob("part-*.parquet"))  # noqa: E731
            wait_until("the archive service wrote Parquet files", files, 60, interval=0.5)
            for name in ("adapter-1", "adapter-2", "archive", "api", "simulator"):
                code = procs[name].terminate(timeout=40)
                assert code == 0, f"{name} exited {code} on SIGTERM: {procs[name].output()[-2000:]}"
        finally:
            for p in procs.values():
                p.close()

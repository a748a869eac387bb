"""`twin demo` and `twin sim` as a user runs them: real subprocesses, real Redis, real OPC UA."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DEMO_PLANT, MINI_PLANT, ROOT
from twin.config import load_plant
from twin.embedded import free_port

TWIN = str(Path(sys.executable).parent / "twin")
TERMINAL = ("stopped", "error")


class Proc:
    """A CLI subprocess whose stdout lines are read on a thread (so waits can time out)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        full_env.update(env or {})
        self.p = subprocess.Popen(
            [TWIN, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first (new) output line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s:\n" + "\n".join(self.lines)
                )
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"process ended before {pattern!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            m = rx.search(line)
            if m:
                return m

    def finish(self, timeout: float) -> int:
        """Wait for the exit code, draining output."""
        rc = self.p.wait(timeout)
        self._t.join(5)
        while not self._q.empty():
            line = self._q.get()
            if line is not None:
                self.lines.append(line)
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


@pytest.fixture
def run_cli() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for p in procs:
        p.kill()


def status(url: str) -> dict[str, dict[str, object]]:
    # --redis-url is an option of the root command (`twin --redis-url URL status`).
    out = subprocess.run(
        [TWIN, "--redis-url", url, "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return {row["id"]: row for row in json.loads(out.stdout)["equipment"]}


@pytest.mark.timeout(300)
def test_demo_runs_the_loop_and_stops_cleanly(run_cli: list[Proc]) -> None:
    plant = load_plant(DEMO_PLANT)
    proc = Proc(["demo", "--duration", "20", "--port", str(free_port()), "--speed", "120"])
    run_cli.append(proc)
    url = proc.wait_line(r"redis:\s+(redis://\S+)", 60).group(1)
    endpoints = [
        proc.wait_line(rf"opc ua:\s+{line.id} (opc\.tcp://\S+)", 180).group(1) for line in plant.lines
    ]
    assert len(set(endpoints)) == len(plant.lines)
    assert "OPC UA" in proc.wait_line(r"mirror:\s+(.*)", 120).group(1)  # the real loop, not the shortcut
    proc.wait_line(r"^running: ", 120)

    first = status(url)
    assert set(first) == {e.id for e in plant.equipment()}
    for eq, row in first.items():
        assert row["state"] is not None, eq
        assert row["quality"] == "good", eq
    proc.wait_line(r"^\[\s*10s\]", 60)  # the heartbeat
    second = status(url)
    changed = [
        eq
        for eq in second
        if (second[eq]["state"], second[eq].get("part_count"))
        != (first[eq]["state"], first[eq].get("part_count"))
    ]
    assert changed, "no state or counter changed in 10 s"
    counted = [
        eq for eq, row in second.items() if isinstance(row.get("part_count"), int) and row["part_count"] > 0
    ]
    assert counted, "no station finished a car"
    assert proc.finish(timeout=120) == 0, "\n".join(proc.lines)
    assert proc.lines[-1] == "stopped"
    assert not any("Traceback" in line for line in proc.lines), "\n".join(proc.lines)
    # the embedded redis is gone with it
    gone = subprocess.run(
        [TWIN, "--redis-url", url, "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert gone.returncode != 0


@pytest.mark.timeout(240)
def test_sim_serves_endpoints_until_interrupted(run_cli: list[Proc]) -> None:
    base = free_port()
    proc = Proc(["sim", "--config", str(MINI_PLANT), "--speed", "600", "--base-port", str(base)])
    run_cli.append(proc)
    urls = [proc.wait_line(rf"^\s+{line}: (opc\.tcp://\S+)", 120).group(1) for line in ("L1", "L2", "C")]
    assert urls[0].startswith(f"opc.tcp://127.0.0.1:{base}/")

    import asyncio

    from asyncua import Client

    async def read_counts() -> list[int]:
        async with Client(urls[0], timeout=10) as c:
            ns = await c.get_namespace_index("urn:sdf-twin:sim")
            node = c.get_node(f"ns={ns};s=L1-WELD.part_count")
            a = await node.read_value()
            await asyncio.sleep(2.0)
            return [a, await node.read_value()]

    a, b = asyncio.run(read_counts())
    assert b > a
    proc.p.send_signal(signal.SIGINT)
    assert proc.finish(timeout=60) == 0, "\n".join(proc.lines)
    assert proc.lines[-1] == "stopped"


def test_demo_refuses_a_busy_port(run_cli: list[Proc]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = Proc(["demo", "--duration", "1", "--port", str(port)])
        run_cli.append(proc)
        rc = proc.finish(timeout=60)
    assert rc == 1
    assert any(f"port {port}" in line and "in use" in line for line in proc.lines), proc.lines

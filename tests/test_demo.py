"""`twin demo` and `twin sim` as a user runs them: real subprocesses, real Redis, real OPC UA."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_PLANT, MINI_PLANT, ROOT
from tests.support.wait import wait_until_async
from twin.config import load_plant
from twin.embedded import free_port, port_free
from twin.model import Plant

TWIN = str(Path(sys.executable).parent / "twin")
TERMINAL = ("stopped", "error")
DATA_DIR = tempfile.mkdtemp(prefix="sdf-test-demo-archive-")


class Proc:
    """A CLI subprocess whose stdout lines are read on a thread (so waits can time out).

    With ``session`` it gets its own process group, so :meth:`interrupt` can do what a terminal's Ctrl-C
    does: SIGINT to the whole group (the CLI and every child it started in that group).
    """

    def __init__(self, args: list[str], env: dict[str, str] | None = None, *, session: bool = False) -> None:
        full_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        full_env["TWIN_DATA_DIR"] = DATA_DIR  # the demo's archive: a temp dir, not ./data of the checkout
        full_env.update(env or {})
        self.p = subprocess.Popen(
            [TWIN, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
            start_new_session=session,
        )
        self.session = session
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

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the process group (``session``) or to the process."""
        if self.p.poll() is None:
            if self.session:
                os.killpg(self.p.pid, signal.SIGINT)
            else:
                self.p.send_signal(signal.SIGINT)

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
        """Stop it if still running: Ctrl-C first (so it cleans up its children), then SIGKILL."""
        if self.p.poll() is None:
            self.interrupt()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


@pytest.fixture
def run_cli() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for p in procs:
        p.kill()


def status(url: str) -> dict[str, dict[str, Any]]:
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


def clean_exit(proc: Proc, timeout: float = 120) -> None:
    """Exit code 0, 'stopped' last, no traceback."""
    rc = proc.finish(timeout=timeout)
    assert rc == 0, "\n".join(proc.lines)
    assert proc.lines[-1] == "stopped", "\n".join(proc.lines)
    assert not any("Traceback" in line for line in proc.lines), "\n".join(proc.lines)


def redis_gone(url: str) -> bool:
    gone = subprocess.run(
        [TWIN, "--redis-url", url, "status", "--json"], capture_output=True, text=True, timeout=60
    )
    return gone.returncode != 0


@dataclass
class DemoRun:
    """One full ``twin demo`` (API and viewer included) shared by the tests below, ended by Ctrl-C."""

    proc: Proc
    plant: Plant
    redis_url: str
    endpoints: list[str]
    api_port: int
    ready: str


@pytest.fixture(scope="module")
def demo_run() -> Iterator[DemoRun]:
    plant = load_plant(DEMO_PLANT)
    api_port = free_port(count=2)  # API on port, viewer on port + 1
    proc = Proc(["demo", "--port", str(api_port), "--speed", "120"], session=True)
    try:
        url = proc.wait_line(r"redis:\s+(redis://\S+)", 60).group(1)
        endpoints = [
            proc.wait_line(rf"opc ua:\s+{line.id} (opc\.tcp://\S+)", 120).group(1) for line in plant.lines
        ]
        ready = proc.wait_line(r"^ready in [\d.]+ s: ", 240).string
        proc.wait_line(r"^running: ", 60)
        yield DemoRun(proc, plant, url, endpoints, api_port, ready)
    finally:
        proc.kill()


@pytest.mark.timeout(400)
def test_demo_ready_line_lists_every_url(demo_run: DemoRun) -> None:
    assert len(set(demo_run.endpoints)) == len(demo_run.plant.lines)
    ready = demo_run.ready
    assert demo_run.redis_url in ready
    for line, url in zip(demo_run.plant.lines, demo_run.endpoints, strict=True):
        assert f"{line.id} {url}" in ready
    assert f"api http://127.0.0.1:{demo_run.api_port}" in ready
    printed_viewer = [ln for ln in demo_run.proc.lines if re.match(r"\s+viewer:\s+http", ln)]
    if printed_viewer:  # the viewer is optional (offscreen GL may be missing); if it runs, it is listed
        assert f"viewer http://127.0.0.1:{demo_run.api_port + 1}/" in ready
    assert ready.endswith("running until Ctrl-C")
    assert "OPC UA" in next(ln for ln in demo_run.proc.lines if "mirror:" in ln)  # the real loop


@pytest.mark.timeout(200)
def test_demo_mirrors_live_states_through_opcua(demo_run: DemoRun) -> None:
    first = status(demo_run.redis_url)
    assert set(first) == {e.id for e in demo_run.plant.equipment()}
    for eq, row in first.items():
        assert row["state"] is not None, eq
        assert row["quality"] == "good", eq
    demo_run.proc.wait_line(r"^\[\s*10s\]", 60)  # the heartbeat
    second = status(demo_run.redis_url)
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


@pytest.mark.timeout(300)
def test_replan_from_another_shell_dispatches_to_the_demo_plcs(demo_run: DemoRun) -> None:
    # The demo's PLCs serve on free ports, not the config's: the twin must say where they are, or a
    # `twin replan` from a second shell (the README's quick tour) dispatches to nothing.
    from twin.store import TwinStore

    store = TwinStore.from_url(demo_run.redis_url, demo_run.plant.id)
    try:
        stored = {ln.id: ln.opcua.endpoint if ln.opcua else None for ln in store.plant().lines}
        scale = store.time_scale()
    finally:
        store.client.close()
    assert stored == {ln.id: url for ln, url in zip(demo_run.plant.lines, demo_run.endpoints, strict=True)}
    assert scale == 120.0  # the viewer shows cars per plant hour at the demo's --speed 120
    out = subprocess.run(
        [TWIN, "--redis-url", demo_run.redis_url, "replan", "--no-check", "--time-limit", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["stored"], doc
    statuses = {line: (r.get("status") if isinstance(r, dict) else r) for line, r in doc["dispatch"].items()}
    assert statuses == {ln.id: "accepted" for ln in demo_run.plant.lines}, doc["dispatch"]


@pytest.mark.timeout(200)
def test_demo_ctrl_c_stops_everything(demo_run: DemoRun) -> None:
    demo_run.proc.interrupt()  # what a terminal's Ctrl-C does: SIGINT to the whole process group
    clean_exit(demo_run.proc)
    assert "stopping ..." in demo_run.proc.lines
    assert redis_gone(demo_run.redis_url)  # the embedded redis is gone with it
    # the archive it ran holds the demo's changes (flushed on the way out)
    assert list(Path(DATA_DIR, "changes", f"plant={demo_run.plant.id}").rglob("part-*-e.parquet"))
    assert f"archive {DATA_DIR}" in demo_run.ready
    # every server it started is down: the API port and the OPC UA ports can be bound again
    assert port_free("127.0.0.1", demo_run.api_port)
    for url in demo_run.endpoints:
        assert port_free("127.0.0.1", int(url.split(":")[2].split("/")[0]))


@pytest.mark.timeout(200)
def test_demo_duration_counts_from_ready_then_exits_0(run_cli: list[Proc]) -> None:
    proc = Proc(
        ["demo", "--duration", "3", "--no-api", "--no-viewer", "--speed", "120", "--port", str(free_port())]
    )
    run_cli.append(proc)
    url = proc.wait_line(r"redis:\s+(redis://\S+)", 60).group(1)
    ready = proc.wait_line(r"^ready in ", 120).string
    assert ready.endswith("running for 3 s")
    clean_exit(proc)
    assert redis_gone(url)


@pytest.mark.timeout(200)
def test_demo_ctrl_c_during_start_up_exits_0(run_cli: list[Proc]) -> None:
    proc = Proc(["demo", "--no-viewer", "--speed", "120", "--port", str(free_port())], session=True)
    run_cli.append(proc)
    url = proc.wait_line(r"redis:\s+(redis://\S+)", 60).group(1)
    proc.wait_line(r"opc ua:", 60)  # the servers are being started
    proc.interrupt()
    clean_exit(proc)
    assert redis_gone(url)


@pytest.mark.timeout(240)
def test_sim_serves_endpoints_until_interrupted(run_cli: list[Proc]) -> None:
    base = free_port(count=3)  # L1, L2, C on base + i
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

            async def newer() -> bool:
                return bool(await node.read_value() > a)

            await wait_until_async("L1-WELD to count another part", newer, 30.0, 0.2)
            return [a, await node.read_value()]

    a, b = asyncio.run(read_counts())
    assert b > a
    proc.interrupt()
    clean_exit(proc, 60)


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

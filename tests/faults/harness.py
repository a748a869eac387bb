"""Process harness of the fault suite: PLC server processes we control, adapter processes, Redis.

Every process is started with :class:`Proc` and always ends in the test's ``finally`` (kill + wait).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from tests.support.wait import wait_until
from twin.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
TWIN = str(Path(sys.executable).with_name("twin"))
#: How often a PLC server writes a new value to every station (one logged tick).
PERIOD_S = 0.3


def fault_plant(path: Path, ports: dict[str, int], stations: int = 3) -> Path:
    """A small plant file: one dedicated line per entry of ``ports`` with ``stations`` stations each."""
    lines = []
    for line, port in ports.items():
        eqs = "\n".join(
            f"      - {{id: {line}-S{i}, type: station, operations: [op{i}], position: {{x: {i * 6}, y: 0}}, "
            f"power_kw: 10, idle_power_kw: 1}}"
            for i in range(stations)
        )
        lines.append(
            f"  - id: {line}\n    kind: dedicated\n"
            f'    opcua: {{endpoint: "opc.tcp://127.0.0.1:{port}/"}}\n    equipment:\n{eqs}'
        )
    routing = "\n".join(f"      - {{operation: op{i}, cycle_s: 60}}" for i in range(stations))
    path.write_text(
        "id: faults\nname: fault-suite plant\nlines:\n"
        + "\n".join(lines)
        + f"\nmodels:\n  - id: A\n    routing:\n{routing}\ndemand: {{A: 10}}\n"
    )
    return path


class Proc:
    """A child process with its output in a file; killed in :meth:`close` if still running."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log = log
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, stdin: int | None = None) -> Proc:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill9(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.alive():
            self.signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def rss_mb(self) -> float:
        return float(psutil.Process(self.pid).memory_info().rss) / 1e6

    def close(self) -> None:
        if self.proc is None:
            return
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)  # a stopped process cannot die of SIGTERM
                self.proc.terminate()
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                self.proc.kill()
                self.proc.wait(5)


class PlcServer(Proc):
    """:mod:`tests.support.plc_server` for one line on a fixed port; restartable on the same port and log."""

    def __init__(self, plant: Path, line: str, port: int, workdir: Path, period: float = PERIOD_S) -> None:
        self.values_log = workdir / f"plc-{line}.values"
        super().__init__(
            [PY, "-m", "tests.support.plc_server", "--plant", str(plant), "--line", line, "--port", str(port),
             "--log", str(self.values_log), "--period", str(period)],
            workdir / f"plc-{line}.out",
        )  # fmt: skip
        self.port = port

    def start_ready(self, timeout: float = 30) -> PlcServer:
        before = self.output().count("READY")
        self.start()

        def ready() -> bool:
            return self.output().count("READY") > before or self._dead()

        wait_until(f"PLC server on {self.port}", ready, timeout)
        if not self.alive():
            raise AssertionError(f"PLC server died: {self.output()[-2000:]}")
        return self

    def _dead(self) -> bool:
        return not self.alive()

    def logged(self) -> list[tuple[float, str, str, str]]:
        """Every value written: ``(time, equipment, tag, value)``."""
        out = []
        if self.values_log.exists():
            for line in self.values_log.read_text().splitlines():
                p = line.split()
                if len(p) == 4:
                    out.append((float(p[0]), p[1], p[2], p[3]))
        return out

    def ticks_after(self, t: float) -> list[float]:
        """The times of the ticks (one write of every station) logged after ``t``, oldest first."""
        return sorted({x[0] for x in self.logged() if x[0] > t})


class PlcZygote(PlcServer):
    """A pre-imported parent that forks a new PLC server process on demand (``--zygote``)."""

    def __init__(self, plant: Path, line: str, port: int, workdir: Path, period: float = PERIOD_S) -> None:
        super().__init__(plant, line, port, workdir, period)
        self.args = [*self.args, "--zygote"]
        self.log = workdir / f"zygote-{line}.out"
        self._forks = 0

    def start_zygote(self, timeout: float = 60) -> PlcZygote:
        self.start(stdin=subprocess.PIPE)
        wait_until("the PLC zygote", lambda: "ZYGOTE" in self.output() or self._dead(), timeout)
        return self

    def fork(self) -> ForkedPlc:
        """Ask for a new server process; it builds its address space meanwhile and serves on
        :meth:`ForkedPlc.go` (so a restart costs neither interpreter start-up nor address-space build)."""
        assert self.proc is not None and self.proc.stdin is not None
        nth = self._forks
        self._forks += 1
        self.proc.stdin.write(b"fork\n")
        self.proc.stdin.flush()
        return ForkedPlc(self, nth)


class ForkedPlc:
    """A PLC server process forked by :class:`PlcZygote` (not our child: handled by pid)."""

    def __init__(self, zygote: PlcZygote, nth: int) -> None:
        self.zygote = zygote
        self.nth = nth
        self.port = zygote.port
        self.values_log = zygote.values_log
        self._pid: int | None = None

    @property
    def pid(self) -> int:
        """The process id (waits until the fork has built its address space)."""
        if self._pid is None:

            def spares() -> list[str]:
                return self.zygote.output().split("SPARE ")

            wait_until("a forked PLC", lambda: len(spares()) > self.nth + 1 or self.zygote._dead(), 60)
            self._pid = int(spares()[self.nth + 1].split()[0])
        return self._pid

    def go(self, timeout: float = 30) -> ForkedPlc:
        """Start serving (bind the port); waits until it serves."""
        pid = self.pid
        ready = self.zygote.output().count("READY")
        os.kill(pid, signal.SIGUSR1)
        wait_until(f"PLC server on {self.port}", lambda: self.zygote.output().count("READY") > ready, timeout)
        return self

    def alive(self) -> bool:
        try:
            return bool(psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill9(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            wait_until(f"PLC {self.pid} gone", lambda: not self.alive(), 10, interval=0.01)

    def close(self) -> None:
        if self._pid is not None:  # a spare never asked for is killed by its zygote
            self.kill9()


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``xs``."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summary(xs: list[float]) -> dict[str, Any]:
    """Median / p95 / max of a list of durations (seconds), rounded."""
    return {"n": len(xs), "median_s": round(percentile(xs, 0.5), 3), "p95_s": round(percentile(xs, 0.95), 3),
            "max_s": round(max(xs), 3)}  # fmt: skip


def record(name: str, data: dict[str, Any]) -> None:
    """Print a test's measured figures (and keep them in ``$SDF_FIGURES_DIR/<name>.json`` if set).

    Figures are reported, never asserted on (no timing assertions in tests); docs/reliability.md quotes them.
    """
    import json

    text = json.dumps(data, sort_keys=True)
    print(f"FIGURES {name} {text}", flush=True)
    out = os.environ.get("SDF_FIGURES_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{name}.json").write_text(text + "\n")

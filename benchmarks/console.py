"""``twin bench console``: the web console on the demo against the trame view, measured in the same run.

``twin demo --via direct`` runs in a child process (simulated plant at demo rates, API + console, trame
viewer). Then, with N WebSocket clients that speak the console's protocol (``GET /layout``,
``GET /stations``, the change feed with the ``twin.v1`` + ``bearer.<token>`` subprotocols) and one real
headless Chromium on the console:

* **state change -> pixel**: for every state change the browser draws, the time from Redis storing it
  (its stream id's milliseconds) to the end of the ``requestAnimationFrame`` that rendered it (p50/p95);
* **server CPU per browser**: the demo process's CPU with N clients minus without any, per client, in % of
  one core (the demo process holds the simulation and the API; the difference is what the clients cost);
* **bytes per browser per second**: what one console client receives in steady state, against what one
  Chromium on the trame view receives (its WebSocket frames, from the DevTools log) over the same window;
* **first meaningful paint**: navigation start to the first 3D frame with live colours, in a fresh browser.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from twin.embedded import free_port, stop_process
from twin.errors import TwinError

__all__ = ["BenchError", "ConsoleBenchSettings", "Demo", "chromium", "demo_process", "run_console_bench"]

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo-plant.yaml"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


class BenchError(TwinError):
    """The benchmark could not run."""


@dataclass(frozen=True)
class ConsoleBenchSettings:
    """How long and with how many clients."""

    clients: int = 50
    window_s: float = 20.0
    warmup_s: float = 5.0

    @classmethod
    def quick(cls) -> ConsoleBenchSettings:
        return cls(clients=10, window_s=8.0, warmup_s=3.0)


@dataclass
class Demo:
    """The running demo: URLs, the admin token, its pid and the trame viewer's."""

    api: str
    viewer: str
    token: str
    pid: int
    viewer_pid: int | None


def _wait_for_line(log: Path, proc: subprocess.Popen[bytes], pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(pattern, log.read_text(errors="replace"))
        if m:
            return m
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"`twin demo` did not get ready: {log.read_text(errors='replace')[-600:]}")
        time.sleep(0.2)


@contextmanager
def demo_process(env: dict[str, str]) -> Iterator[Demo]:
    """``twin demo --via direct`` with the console and the trame viewer, in a child process."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="twin-bench-console-") as tmp:
        log = Path(tmp) / "demo.log"
        cmd = [
            sys.executable, "-c", "from twin.cli import main; main()", "demo", "--config", str(DEMO_CONFIG),
            "--via", "direct", "--port", str(port),
        ]  # fmt: skip
        child_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env)
        try:
            token = _wait_for_line(log, proc, r"#token=(\S+)", 90).group(1)
            _wait_for_line(log, proc, r"ready in", 120)
            viewer = f"http://127.0.0.1:{port + 1}/"
            kids = [c for c in psutil.Process(proc.pid).children(recursive=True) if "viz.web" in c.cmdline()]
            yield Demo(f"http://127.0.0.1:{port}", viewer, token, proc.pid, kids[0].pid if kids else None)
        finally:
            stop_process(proc)


class FeedClients:
    """N console-protocol clients in one asyncio loop on a thread: each loads the layout and the stations,
    then follows the change feed, counting bytes."""

    def __init__(self, demo: Demo, n: int) -> None:
        self.demo, self.n = demo, n
        self.bytes = [0] * n
        self.initial_bytes = 0
        self.connected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> FeedClients:
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.connected < self.n:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise BenchError(f"only {self.connected} of {self.n} feed clients connected")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    async def _client(self, k: int, http: httpx.AsyncClient) -> None:
        layout = await http.get("/api/v1/layout")
        got = len(layout.content) + len((await http.get("/api/v1/stations?limit=1000")).content)
        if k == 0:
            self.initial_bytes = got
        tags = ",".join(layout.json()["view_tags"])  # what the console's plant view follows
        url = self.demo.api.replace("http", "ws", 1) + f"/api/v1/ws/changes?tag={tags}"
        async with websockets.connect(url, subprotocols=["twin.v1", f"bearer.{self.demo.token}"]) as ws:  # type: ignore[list-item]
            self.connected += 1
            while not self._stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                self.bytes[k] += len(msg)

    async def _main(self) -> None:
        headers = {"Authorization": f"Bearer {self.demo.token}"}
        async with httpx.AsyncClient(base_url=self.demo.api, headers=headers, timeout=30) as http:
            await asyncio.gather(*(self._client(k, http) for k in range(self.n)))


def chromium(perf_log: bool = False) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='twin-bench-chromium-')}")
    opts.add_argument("--window-size=1366,768")
    if perf_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _ws_bytes(driver: Any) -> int:
    """Bytes of WebSocket frames and HTTP bodies the page received since the last call (DevTools log)."""
    total = 0
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.webSocketFrameReceived":
            frame = msg["params"]["response"]
            n = len(frame["payloadData"])
            total += n * 3 // 4 if frame.get("opcode") == 2 else n  # binary frames are logged as base64
        elif msg["method"] == "Network.dataReceived":
            total += int(msg["params"].get("encodedDataLength") or 0)
    return total


def _open_console(driver: Any, demo: Demo, timeout: float = 60) -> float:
    """Open the console signed in; returns its first meaningful paint (ms after navigation start)."""
    driver.get(f"{demo.api}/#token={demo.token}")
    deadline = time.monotonic() + timeout
    while True:
        fmp = driver.execute_script("return window.__twin && window.__twin.firstPaint")
        if fmp:
            return float(fmp)
        if time.monotonic() > deadline:
            raise BenchError("the console drew no frame within 60 s")
        time.sleep(0.05)


def _cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _cpu_share(pid: int | None, seconds: float) -> float:
    """Share of one core a process used over the next ``seconds``."""
    c0, t0 = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(pid) - c0) / (time.monotonic() - t0)


def _latencies(driver: Any, since_ms: float) -> list[float]:
    painted = driver.execute_script("return window.__twin.painted()")
    out = []
    for p in painted:
        if p.get("id") and p["at"] >= since_ms:
            out.append(p["at"] - float(str(p["id"]).split("-")[0]))
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _trame_bytes_per_s(demo: Demo, window_s: float, warmup_s: float) -> dict[str, Any]:
    """One Chromium on the trame view: bytes/s it receives, and the viewer process's CPU meanwhile."""
    driver = chromium(perf_log=True)
    try:
        driver.get(demo.viewer)
        time.sleep(warmup_s)  # the trame app loads and streams its first frames (steady state after this)
        _ws_bytes(driver)
        c0, t0 = _cpu_s(demo.viewer_pid), time.monotonic()
        time.sleep(window_s)
        got = _ws_bytes(driver)
        dt = time.monotonic() - t0
        return {"bytes_per_s": got / dt, "viewer_cpu_share": (_cpu_s(demo.viewer_pid) - c0) / dt}
    finally:
        driver.quit()


def _console_browser(demo: Demo, cfg: ConsoleBenchSettings, clients: int) -> dict[str, Any]:
    """The console in Chromium while ``clients`` feed clients are connected: latencies, bytes, CPU."""
    driver = chromium(perf_log=True)
    try:
        fmp_ms = _open_console(driver, demo)
        with FeedClients(demo, clients) as feed:
            time.sleep(cfg.warmup_s)
            since = time.time() * 1000
            _ws_bytes(driver)
            b0 = list(feed.bytes)
            t0 = time.monotonic()
            cpu = _cpu_share(demo.pid, cfg.window_s)
            dt = time.monotonic() - t0
            per_client = [(b - a) / dt for a, b in zip(b0, feed.bytes, strict=True)]
            browser_bytes = _ws_bytes(driver) / dt
            lat = _latencies(driver, since)
            initial = feed.initial_bytes
        return {
            "first_meaningful_paint_ms": round(fmp_ms, 1),
            "cpu_share_with_clients": cpu,
            "client_bytes_per_s": statistics.median(per_client) if per_client else 0.0,
            "browser_bytes_per_s": browser_bytes,
            "initial_bytes": initial,
            "latencies_ms": lat,
        }
    finally:
        driver.quit()


def _fresh_paint_ms(demo: Demo, runs: int) -> list[float]:
    """First meaningful paint in fresh browsers (no cache)."""
    out = []
    for _ in range(runs):
        driver = chromium()
        try:
            out.append(_open_console(driver, demo))
        finally:
            driver.quit()
    return out


def run_console_bench(*, quick: bool = False, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the benchmark and return its figures (see the module docstring)."""
    cfg = ConsoleBenchSettings.quick() if quick else ConsoleBenchSettings()
    with demo_process(dict(env if env is not None else os.environ)) as demo:
        time.sleep(cfg.warmup_s)  # the simulation settles into its steady rate
        idle_cpu = _cpu_share(demo.pid, cfg.window_s)
        console = _console_browser(demo, cfg, cfg.clients)
        trame = _trame_bytes_per_s(demo, cfg.window_s, cfg.warmup_s)
        paints = _fresh_paint_ms(demo, 3 if quick else 5)
    lat = console["latencies_ms"]
    per_client_cpu = (console["cpu_share_with_clients"] - idle_cpu) / max(cfg.clients, 1)
    return {
        "quick": quick,
        "clients": cfg.clients,
        "window_s": cfg.window_s,
        "state_changes_drawn": len(lat),
        "change_to_pixel_ms_p50": _pct(lat, 0.5),
        "change_to_pixel_ms_p95": _pct(lat, 0.95),
        "server_cpu_idle_pct_core": round(100 * idle_cpu, 2),
        "server_cpu_with_clients_pct_core": round(100 * console["cpu_share_with_clients"], 2),
        "server_cpu_per_client_pct_core": round(100 * per_client_cpu, 3),
        "console_bytes_per_client_per_s": round(console["client_bytes_per_s"], 1),
        "console_browser_bytes_per_s": round(console["browser_bytes_per_s"], 1),
        "console_initial_bytes": console["initial_bytes"],
        "trame_bytes_per_browser_per_s": round(trame["bytes_per_s"], 1),
        "trame_viewer_cpu_pct_core_one_browser": round(100 * trame["viewer_cpu_share"], 2),
        "bytes_ratio_console_vs_trame": (
            round(console["browser_bytes_per_s"] / trame["bytes_per_s"], 4) if trame["bytes_per_s"] else None
        ),
        "first_meaningful_paint_ms_median": round(statistics.median(paints), 1),
        "first_meaningful_paint_ms_runs": [round(p, 1) for p in paints],
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": psutil.cpu_count(),
    }

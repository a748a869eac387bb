"""``twin bench soak``: the demo at 60x as separate processes for N minutes, with API and WebSocket clients
attached; RSS and latency of every process over time, changes lost, errors.

Processes (as ``docker/compose.yaml`` runs them): ``redis-server``, ``twin sim --speed 60`` (the simulated
PLCs), ``twin adapt`` (OPC UA -> Redis), ``twin serve`` (API + WebSocket; no 3D viewer). The bench itself
plays the console: WebSocket clients on the change feed and one client polling ``/api/v1/stations``.

Every ``sample_s``: RSS of each process (psutil) and one latency probe per process: Redis ``PING``, an OPC
UA read from the simulator, the adapter's ingest latency (PLC source timestamp -> Redis entry time, from the
newest change-stream entries), an API request. RSS slope: least squares over the samples after warm-up
(the first third of the run, at most 5 minutes), as % of the mean RSS per hour. Changes lost: change-stream
entries (still in the stream at the end) between the first and last one a WebSocket client received that
it never got. Errors: failed or non-2xx API requests, WebSocket drops, ``ERROR``/``Traceback`` lines in
the processes' logs. Same-run baseline: the latencies of the first minute after warm-up vs the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
from websockets.asyncio.client import connect

from twin.api.auth import Role, new_token
from twin.config import load_plant
from twin.embedded import EmbeddedRedis, free_port
from twin.model import Plant
from twin.store import DEFAULT_STREAM_MAXLEN, TwinStore

__all__ = ["run_soak"]

TWIN = str(Path(sys.executable).with_name("twin"))
DEMO_PLANT = Path(__file__).resolve().parents[1] / "configs" / "demo-plant.yaml"


@dataclass
class _Proc:
    """One soaked process: its samples ``(t, rss_bytes)`` and latencies (s)."""

    name: str
    pid: int
    rss: list[tuple[float, float]] = field(default_factory=list)
    latency: list[tuple[float, float]] = field(default_factory=list)
    log: Path | None = None
    #: when the process's memory may be expected flat: Redis's once the change stream reached its cap
    steady_at: float | None = None


@dataclass
class _Clients:
    """What the console-like clients saw."""

    received: list[set[str]] = field(default_factory=list)
    first_after: list[str] = field(default_factory=list)
    ws_latency: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _slope_pct_per_h(samples: list[tuple[float, float]], warmup_s: float) -> float | None:
    pts = [(t, v) for t, v in samples if t >= warmup_s]
    if len(pts) < 3:
        return None
    ts, vs = [p[0] for p in pts], [p[1] for p in pts]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    if den == 0 or mv == 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in pts) / den  # bytes per second
    return round(slope * 3600 / mv * 100, 3)


def _p99_ms(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(0.99 * len(s)))] * 1000, 2)


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait(what: str, fn: Any, timeout: float, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        dead = [p.args for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"soak: {what} did not happen (dead: {dead})")
        time.sleep(0.2)


async def _ws_client(url: str, stop: asyncio.Event, clients: _Clients, i: int) -> None:
    got: set[str] = set()
    clients.received.append(got)
    clients.first_after.append("")
    try:
        async with connect(url, max_size=1 << 22) as ws:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                msg = json.loads(raw)
                if msg["type"] == "hello":
                    clients.first_after[i] = msg["after"]
                elif msg["type"] == "changes":
                    got.add(msg["id"])
                    clients.ws_latency.append(time.time() - int(msg["id"].split("-")[0]) / 1000)
    except Exception as exc:  # a dropped feed is an error of the run, reported, not raised
        clients.errors.append(f"websocket client {i}: {type(exc).__name__}: {exc}")


class _OpcProbe:
    """One OPC UA session to the simulator; each probe is one Read (the namespace array)."""

    def __init__(self, url: str) -> None:
        from asyncua import Client  # the bench may use the OPC UA library (benchmarks -> adapters)

        logging.getLogger("asyncua").setLevel(logging.ERROR)
        self.client = Client(url, timeout=5)
        self.up = False

    async def latency(self) -> float | None:
        try:
            if not self.up:
                await self.client.connect()
                self.up = True
            t0 = time.perf_counter()
            await self.client.get_namespace_array()
            return time.perf_counter() - t0
        except Exception:
            self.up = False
            return None

    async def close(self) -> None:
        if self.up:
            with contextlib.suppress(Exception):
                await self.client.disconnect()


def _ingest_latency(store: TwinStore) -> float | None:
    """Newest entries: Redis entry time minus the PLC's source timestamp of their changes (median)."""
    lat = [
        int(sid.split("-")[0]) / 1000 - c.source_ts
        for sid, _src, changes in store.change_range_rev(count=20)
        for c in changes
        if c.source_ts
    ]
    return statistics.median(lat) if lat else None


async def _sampler(
    procs: dict[str, _Proc], store: TwinStore, api: str, token: str, opc_url: str, stop: asyncio.Event,
    sample_s: float, t0: float, errors: list[str],
) -> None:  # fmt: skip
    r = redis.Redis.from_url(_url_of(store))
    opc_probe = _OpcProbe(opc_url)
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        while not stop.is_set():
            t = time.monotonic() - t0
            for p in procs.values():
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.rss.append((t, float(psutil.Process(p.pid).memory_info().rss)))
            s = time.perf_counter()
            r.ping()
            red = procs["redis-server"]
            red.latency.append((t, time.perf_counter() - s))
            if red.steady_at is None and store.change_stream_info()["length"] >= store.stream_maxlen * 0.99:
                red.steady_at = t
            s = time.perf_counter()
            try:
                resp = await c.get("/api/v1/stations", params={"limit": 1000})
                if resp.status_code != 200:
                    errors.append(f"API answered {resp.status_code}")
                procs["api"].latency.append((t, time.perf_counter() - s))
            except httpx.HTTPError as exc:
                errors.append(f"API request failed: {exc}")
            ingest = await asyncio.to_thread(_ingest_latency, store)
            if ingest is not None:
                procs["adapter"].latency.append((t, ingest))
            opc = await opc_probe.latency()
            if opc is not None:
                procs["sim"].latency.append((t, opc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), sample_s)
    r.close()
    await opc_probe.close()


def _url_of(store: TwinStore) -> str:
    kw = store.client.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


def _lost(store: TwinStore, clients: _Clients) -> int:
    """Stream entries between a client's first and last received id that it never got."""
    lost = 0
    for got, after in zip(clients.received, clients.first_after, strict=True):
        if not got:
            continue
        last = max(got, key=lambda s: tuple(int(x) for x in s.split("-")))
        start = (
            after if after and after != "0-0" else min(got, key=lambda s: tuple(int(x) for x in s.split("-")))
        )
        ids = [sid for sid, _src, _ch in store.change_range(f"({start}", last)]
        lost += sum(1 for sid in ids if sid not in got)
    return lost


def _log_errors(procs: dict[str, _Proc]) -> list[str]:
    out: list[str] = []
    for p in procs.values():
        if p.log is not None and p.log.exists():
            for line in p.log.read_text(errors="replace").splitlines():
                if re.search(r"\bERROR\b|Traceback", line):
                    out.append(f"{p.name}: {line[:200]}")
    return out


def _services(
    plant_file: Path,
    url: str,
    work: Path,
    api_port: int,
    base: int,
    token_line: str,
    plant: Plant,
    maxlen: int,
) -> tuple[dict[str, _Proc], list[subprocess.Popen[bytes]]]:
    env = {**os.environ, "REDIS_URL": url, "TWIN_API_TOKENS": token_line}
    subprocess.run([TWIN, "load", "--config", str(plant_file), "--time-scale", "60"], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    endpoints = [
        a
        for i, line in enumerate(plant.lines)
        for a in ("--endpoint", f"{line.id}=opc.tcp://127.0.0.1:{base + i}")
    ]
    specs = {
        "sim": [TWIN, "sim", "--config", str(plant_file), "--speed", "60", "--base-port", str(base)],
        "adapter": [TWIN, "adapt", "--config", str(plant_file), "--stream-maxlen", str(maxlen), *endpoints],
        "api": [TWIN, "serve", "--port", str(api_port), "--no-viewer", "--no-writeback"],
    }
    procs: dict[str, _Proc] = {}
    popens: list[subprocess.Popen[bytes]] = []
    for name, args in specs.items():
        log = work / f"{name}.log"
        p = _start(args, log, env)
        popens.append(p)
        procs[name] = _Proc(name, p.pid, log=log)
    return procs, popens


def run_soak(
    minutes: float, *, sample_s: float | None = None, ws_clients: int = 5, stream_maxlen: int | None = None
) -> dict[str, Any]:
    """Run the soak (see the module docstring) and return its figures; ``stream_maxlen``: the adapter's
    change-stream cap (a smaller one fills within the run, so Redis's plateau is measured too)."""
    duration = minutes * 60
    sample = sample_s or max(1.0, min(10.0, duration / 60))
    plant = load_plant(DEMO_PLANT)
    work = Path(tempfile.mkdtemp(prefix="sdf-soak-"))
    token, line = new_token(Role.VIEWER, "soak")
    api_port, base = free_port(), free_port(count=len(plant.lines))
    with EmbeddedRedis(workdir=work / "redis") as server:
        maxlen = stream_maxlen or DEFAULT_STREAM_MAXLEN
        procs, popens = _services(DEMO_PLANT, server.url, work, api_port, base, line, plant, maxlen)
        assert server.proc is not None
        procs["redis-server"] = _Proc("redis-server", server.proc.pid)
        store = TwinStore.from_url(server.url, plant.id, stream_maxlen=maxlen)
        api = f"http://127.0.0.1:{api_port}"
        try:
            return _soak(procs, popens, store, api, token, f"opc.tcp://127.0.0.1:{base}", duration, sample,
                         ws_clients, minutes)  # fmt: skip
        finally:
            for p in popens:
                p.terminate()
            for p in popens:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            store.close()


def _row(p: _Proc, warmup: float) -> dict[str, Any]:
    """One process's figures; ``*_early`` is the same-run baseline (the first third after warm-up). Redis's
    RSS slope counts from when the change stream is full (it grows until then by design, up to its cap)."""
    rss_from = max(warmup, p.steady_at) if p.name == "redis-server" and p.steady_at is not None else warmup
    lat = [(t, x) for t, x in p.latency if t >= warmup]
    rss = [v for t, v in p.rss if t >= warmup]
    early = [x for t, x in lat if lat and t <= lat[0][0] + (lat[-1][0] - lat[0][0]) / 3]
    return {
        "name": p.name,
        "rss_slope_pct_per_h": _slope_pct_per_h(p.rss, rss_from),
        "p99_latency_ms": _p99_ms([x for _t, x in lat]),
        "p99_latency_ms_early": _p99_ms(early),
        "rss_mb_first": round(rss[0] / 1e6, 1) if rss else None,
        "rss_mb_last": round(rss[-1] / 1e6, 1) if rss else None,
        "samples": len(p.rss),
        **(
            {"stream_full_at_s": round(p.steady_at, 1) if p.steady_at else None}
            if p.name == "redis-server"
            else {}
        ),
    }


def _ready(store: TwinStore, api: str) -> bool:
    try:
        rows = store.status()
        return (
            bool(rows) and all(r["quality"] == "good" for r in rows) and httpx.get(api + "/readyz").is_success
        )
    except Exception:
        return False


def _soak(
    procs: dict[str, _Proc], popens: list[subprocess.Popen[bytes]], store: TwinStore, api: str, token: str,
    opc_url: str, duration: float, sample: float, n_ws: int, minutes: float,
) -> dict[str, Any]:  # fmt: skip
    _wait("every tag live and the API ready", lambda: _ready(store, api), 180, popens)
    clients = _Clients()
    errors: list[str] = []
    first_len = store.change_stream_info()["length"]
    ws_url = api.replace("http", "ws", 1) + f"/api/v1/ws/changes?token={token}"

    async def main() -> float:
        stop = asyncio.Event()
        t0 = time.monotonic()
        tasks = [asyncio.create_task(_ws_client(ws_url, stop, clients, i)) for i in range(n_ws)]
        sampler = asyncio.create_task(_sampler(procs, store, api, token, opc_url, stop, sample, t0, errors))
        await asyncio.sleep(duration)
        stop.set()
        await asyncio.gather(sampler, *tasks)
        return time.monotonic() - t0

    elapsed = asyncio.run(main())
    changes = store.change_stream_info()["length"] - first_len
    warmup = min(300.0, duration / 3)
    errors += clients.errors + _log_errors(procs)
    names = ("sim", "adapter", "api")
    errors += [
        f"{n} exited with {p.returncode}" for n, p in zip(names, popens, strict=True) if p.poll() is not None
    ]
    rows = [_row(p, warmup) for p in procs.values()]
    return {
        "minutes": minutes,
        "processes": rows,
        "changes_lost": _lost(store, clients),
        "errors": len(errors),
        "error_lines": errors[:20],
        "ws_clients": n_ws,
        "ws_p99_latency_ms": _p99_ms(clients.ws_latency),
        "stream_entries_per_s": round(changes / elapsed, 1),
        "stream_entries_end": store.change_stream_info()["length"],
        "stream_maxlen": store.stream_maxlen,
        "ws_messages_received": sum(len(g) for g in clients.received),
        "warmup_s": round(warmup, 1),
        "sample_s": sample,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }

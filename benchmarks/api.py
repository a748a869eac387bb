"""``twin bench api``: HTTP reads/s and WebSocket fan-out, against baselines measured in the same run.

The API runs as ``twin serve`` in its own process (as deployed); the load generators run here.
Baselines: the same reads done directly on the Redis-backed store in-process (what the API adds on top),
and the changes/s written to the twin (x clients = what a perfect fan-out would deliver).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from twin.api.auth import Role, new_token
from twin.config import load_plant
from twin.embedded import EmbeddedRedis, free_port, stop_process
from twin.errors import TwinError
from twin.store import TwinStore
from twin.store.streamids import id_ms

__all__ = ["BenchError", "run_bench"]

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo-plant.yaml"


class BenchError(TwinError):
    """The benchmark could not run."""


@contextmanager
def _redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@contextmanager
def _server(redis_url: str, token_line: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``twin serve`` in a child process; yields its URL and pid."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="twin-bench-api-") as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(token_line + "\n")
        cmd = [
            sys.executable, "-c", "from twin.cli import main; main()", "--redis-url", redis_url, "serve",
            "--port", str(port), "--tokens", str(tokens), "--no-viewer", "--no-writeback",
        ]  # fmt: skip
        child_env = {k: v for k, v in env.items() if k not in ("TWIN_API_TOKENS", "TWIN_API_TOKENS_FILE")}
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.flush()
                    raise BenchError(f"`twin serve` exited: {(Path(tmp) / 'serve.log').read_text()[-500:]}")
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError("`twin serve` did not become ready within 60 s")
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            stop_process(proc, 10.0, kill_timeout_s=5.0)
            log.close()


def _fill_live(store: TwinStore) -> list[str]:
    now = time.time()
    ids = []
    for e in store.plant().equipment():
        store.write_changes([(e.id, t.name, 0, "good", now) for t in e.tags()], source="bench")
        ids.append(e.id)
    return ids


def _store_reads(store: TwinStore, ids: list[str], seconds: float) -> float:
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        store.read_tags(ids[n % len(ids)])
        n += 1
    return n / (time.perf_counter() - t0)


async def _http_reads(url: str, token: str, ids: list[str], seconds: float, concurrency: int) -> float:
    """GETs of one station's live state over ``concurrency`` keep-alive connections.

    A minimal HTTP/1.1 client on asyncio streams: httpx's pool costs more CPU per request than the server
    does, and on a 2-core machine the load generator would otherwise measure itself.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    count = 0
    errors = 0
    t0 = time.perf_counter()

    async def worker(k: int) -> None:
        nonlocal count, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = k
        try:
            while time.perf_counter() - t0 < seconds:
                writer.write(
                    f"GET /api/v1/stations/{ids[i % len(ids)]} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {token}\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200"):
                    count += 1
                else:
                    errors += 1
                i += concurrency
        finally:
            writer.close()

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - t0
    if errors:
        raise BenchError(f"{errors} read requests failed during the benchmark")
    return count / elapsed


@dataclass
class _Tally:
    """What the WebSocket clients received: changes per client, clients dropped, client 0's latencies."""

    received: list[int]
    closed: int = 0
    latencies: list[float] = field(default_factory=list)


async def _read_changes(k: int, ws: Any, tally: _Tally) -> None:
    """Count client ``k``'s changes until its socket closes (client 0 also records latencies)."""
    try:
        async for raw in ws:
            now = time.time()
            msg = json.loads(raw)
            if msg.get("type") != "changes":
                continue
            tally.received[k] += len(msg["changes"])
            if k == 0:
                tally.latencies.append(now - id_ms(msg["id"]) / 1000.0)
    except Exception:
        tally.closed += 1


def _write_changes(store: TwinStore, ids: list[str], seconds: float, entries_per_s: float, batch: int) -> int:
    """Write ``entries_per_s`` entries of ``batch`` changes for ``seconds``, paced; returns the changes."""
    written = 0
    i = 0
    period = 1.0 / entries_per_s
    nxt = time.perf_counter()
    t_end = nxt + seconds
    while time.perf_counter() < t_end:
        now = time.time()
        store.write_changes(
            [(ids[(i + j) % len(ids)], "part_count", i + j, "good", now) for j in range(batch)],
            source="bench",
        )
        written += batch
        i += batch
        nxt += period
        delay = nxt - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return written


async def _fanout(
    url: str,
    token: str,
    store: TwinStore,
    ids: list[str],
    clients: int,
    seconds: float,
    entries_per_s: float,
    batch: int,
) -> dict[str, Any]:
    """``clients`` WebSocket clients follow the changes written here for ``seconds``; what they received."""
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + f"/api/v1/ws/changes?token={token}"
    conns = [await connect(ws_url, max_size=1 << 22) for _ in range(clients)]
    for ws in conns:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
    tally = _Tally(received=[0] * clients)
    tasks = [asyncio.create_task(_read_changes(k, ws, tally)) for k, ws in enumerate(conns)]
    t0 = time.perf_counter()
    written = await asyncio.to_thread(_write_changes, store, ids, seconds, entries_per_s, batch)
    write_s = time.perf_counter() - t0
    expected = written * clients
    drain_deadline = time.perf_counter() + 10
    while sum(tally.received) < expected and time.perf_counter() < drain_deadline and tally.closed < clients:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    for ws in conns:
        await ws.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted(tally.latencies) or [0.0]
    delivered = sum(tally.received)
    return {
        "written_per_s": written / write_s,
        "delivered_per_s": delivered / elapsed,
        "delivered_ratio": delivered / expected if expected else 0.0,
        "latency_p50_ms": lat[len(lat) // 2] * 1000,
        "latency_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "clients_dropped": tally.closed,
    }


def run_bench(
    redis_url: str | None, *, quick: bool, clients: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the API benchmark; returns the JSON document ``twin bench api --json`` prints."""
    for noisy in ("httpx", "httpcore", "websockets"):  # one log line per request would load the client
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not DEMO_CONFIG.exists():
        raise BenchError(f"the demo plant {DEMO_CONFIG} is missing")
    rounds = 3
    read_s = 2.0 if quick else 6.0
    ws_s = 4.0 if quick else 10.0
    ws_rounds = 1 if quick else 3
    concurrency = 16
    entries_per_s, batch = (
        100.0,
        10,
    )  # a demo-sized plant: ~10 adapters x 10 publish cycles/s, 10 changes each
    token, line = new_token(Role.VIEWER, "bench")
    with _redis(redis_url) as url:
        store = TwinStore.from_url(url)
        store.load_plant(load_plant(DEMO_CONFIG))
        ids = _fill_live(store)
        with _server(url, line, env or dict(os.environ)) as (api_url, pid):
            base: list[float] = []
            reads: list[float] = []
            for _ in range(rounds):  # interleaved, so both see the same machine load
                base.append(_store_reads(store, ids, read_s))
                reads.append(asyncio.run(_http_reads(api_url, token, ids, read_s, concurrency)))
            fan = [
                asyncio.run(_fanout(api_url, token, store, ids, clients, ws_s, entries_per_s, batch))
                for _ in range(ws_rounds)
            ]
            rss = _rss_mb(pid)
        store.close()
    med = statistics.median
    written = med(f["written_per_s"] for f in fan)
    delivered = med(f["delivered_per_s"] for f in fan)
    return {
        "reads_per_s": med(reads),
        "reads_per_s_rounds": reads,
        "read_concurrency": concurrency,
        "baseline_store_reads_per_s": med(base),
        "reads_vs_store_ratio": med(reads) / med(base) if med(base) else None,
        "ws_clients": clients,
        "ws_changes_per_s_delivered": delivered,
        "ws_changes_per_s_written": written,
        "ws_changes_per_s_expected": written * clients,
        "ws_delivery_ratio": med(f["delivered_ratio"] for f in fan),
        "ws_latency_p50_ms": med(f["latency_p50_ms"] for f in fan),
        "ws_latency_p99_ms": med(f["latency_p99_ms"] for f in fan),
        "ws_clients_dropped": max(f["clients_dropped"] for f in fan),
        "ws_entries_per_s_written": entries_per_s,
        "ws_changes_per_entry": batch,
        "server_rss_mb": rss,
        "equipment": len(ids),
        "quick": quick,
    }


def _rss_mb(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except psutil.Error:  # the process is gone: the figure is optional
        return None

"""``twin bench scale``: enterprise scale on a 3-master Redis Cluster: sharded adapter processes, memory per
10k tags, what a status read costs at that size.

* **Ingest scaling**: a generated plant (10 lines x 50 stations x 20 tags = 10,000 tags by default), one
  fast OPC UA load server per line (:mod:`benchmarks.loadserver`, every tag changes every publishing
  interval: 100,000 changes/s offered at 100 ms), mirrored by N ``twin adapt --shard I/N`` processes into
  the cluster, for N in ``shards``. Changes/s absorbed = the adapters' own ``changes_written`` counters over
  the measured window; the ratio to N = 1 is the scaling (the same run's baseline).
* **Memory**: ``plants`` generated plants (ten of 10x50x20 = 100,000 tags by default) loaded into the
  cluster, every tag given a live value; the masters' ``used_memory`` before and after, per 10,000 tags
  (graph + definition + live hashes; the change stream, capped by entries, is deleted before measuring
  and reported on its own per 1,000 entries).
* **Reads at scale**: ``twin status`` of one 500-station plant (all its live hashes) on the cluster.

Every process shares the machine's cores with the cluster and the load servers: the scaling ratio is capped
by ``cores`` (reported), not by the adapters; on a machine shared with other work it also moves with the
load (reported). The adapters' CPU time per change (``cpu_us_per_change``) does not, so it is reported too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks.loadserver import LoadServerProcess
from benchmarks.localcluster import LocalCluster
from twin.config import load_plant
from twin.generate import generate_yaml
from twin.model import Plant
from twin.store import TwinStore

__all__ = ["run_scale_bench"]

TWIN = str(Path(sys.executable).with_name("twin"))


def _used_mb(cluster: LocalCluster) -> float:
    total = 0
    for port in cluster.masters():
        c = redis.Redis(host="127.0.0.1", port=port)
        try:
            total += int(c.info("memory")["used_memory"])
        finally:
            c.close()
    return total / 1e6


def _plant_file(directory: Path, lines: int, stations: int, tags: int, seed: int) -> Path:
    path = directory / f"plant-{lines}x{stations}x{tags}-{seed}.yaml"
    text = generate_yaml(lines, stations, tags, seed=seed)
    # each generated plant needs its own id so that several share one Redis
    path.write_text(re.sub(r"^id: (.*)$", rf"id: \1-p{seed}", text, count=1, flags=re.M))
    return path


def _memory(cluster: LocalCluster, work: Path, plants: int, size: tuple[int, int, int]) -> dict[str, Any]:
    """Load ``plants`` generated plants with a live value per tag; MB per 10k tags."""
    cluster.flushall()
    before = _used_mb(cluster)
    n_tags = 0
    entries = 0
    for i in range(plants):
        plant = load_plant(_plant_file(work, *size, seed=i))
        store = TwinStore.from_url(cluster.url)
        store.load_plant(plant)
        now = time.time()
        for e in plant.equipment():
            changes = [(e.id, t.name, 0, "good", now) for t in e.tags()]
            n_tags += len(changes)
            store.write_changes(changes, source="scale")
            entries += 1
        store.close()
    with_stream = _used_mb(cluster)
    for i in range(plants):
        c = cluster.client()
        c.delete(f"sdf:{{{load_plant(_plant_file(work, *size, seed=i)).id}}}:changes")
        c.close()
    after = _used_mb(cluster)
    return {
        "plants": plants,
        "tags": n_tags,
        "redis_mb_per_10k_tags": round((after - before) / (n_tags / 10_000), 2),
        "redis_mb_total": round(after - before, 1),
        "stream_mb_per_1k_entries": round((with_stream - after) / (entries / 1000), 3),
        "stream_entry_changes": size[2],
    }


def _adapters(plant_file: Path, plant: Plant, urls: dict[str, str], n: int, url: str, work: Path,
              interval_ms: float) -> list[tuple[subprocess.Popen[bytes], Path]]:  # fmt: skip
    env = {**os.environ, "REDIS_URL": url}
    endpoints = [a for line in plant.lines for a in ("--endpoint", f"{line.id}={urls[line.id]}")]
    out = []
    for i in range(1, n + 1):
        log = work / f"adapt-{n}-{i}.log"
        args = [TWIN, "adapt", "--config", str(plant_file), "--shard", f"{i}/{n}", *endpoints,
                "--publish-interval-ms", str(interval_ms), "--stale-after", "30"]  # fmt: skip
        with log.open("wb") as f:
            out.append((subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env), log))
    return out


def _written(log: Path) -> int:
    text = log.read_text(errors="replace")
    i = text.rfind("stopped; ingest ")
    if i < 0:
        raise RuntimeError(f"adapter did not report its counters: {text[-1500:]}")
    return int(json.loads(text[i + len("stopped; ingest ") :].splitlines()[0])["changes_written"])


def _measure(plant_file: Path, plant: Plant, urls: dict[str, str], n: int, url: str, work: Path,
             window_s: float, interval_ms: float) -> dict[str, Any]:  # fmt: skip
    """N shard processes for ``window_s`` after every endpoint is mirrored: changes/s absorbed."""
    procs = _adapters(plant_file, plant, urls, n, url, work, interval_ms)
    try:
        deadline = time.monotonic() + 180
        while sum(log.read_text(errors="replace").count(": mirroring") for _p, log in procs) < len(urls):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _l in procs):
                raise RuntimeError(f"{n} shards did not connect: {procs[0][1].read_text()[-1500:]}")
            time.sleep(0.2)
        t0 = time.monotonic()
        cpu0 = sum(_cpu_s(p.pid) for p, _l in procs)
        time.sleep(window_s)
        cpu = sum(_cpu_s(p.pid) for p, _l in procs) - cpu0
        for p, _log in procs:
            p.send_signal(signal.SIGTERM)
        for p, _log in procs:
            p.wait(60)
        elapsed = time.monotonic() - t0
    finally:
        for p, _log in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    written = sum(_written(log) for _p, log in procs)  # includes the one re-sync read per tag
    per_change = round(cpu / written * 1e6, 2) if written else None
    return {"n": n, "changes_per_s": round(written / elapsed), "window_s": round(elapsed, 1),
            "adapter_cpu_s": round(cpu, 1), "cpu_us_per_change": per_change}  # fmt: skip


def _cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _status_ms(url: str, plant: Plant, repeats: int = 5) -> float:
    store = TwinStore.from_url(url, plant.id)
    try:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = store.status()
            times.append(time.perf_counter() - t0)
        assert len(rows) == len(plant.equipment())
        return round(statistics.median(times) * 1000, 1)
    finally:
        store.close()


def run_scale_bench(
    *, quick: bool = False, shards: list[int] | None = None, plants: int | None = None,
    interval_ms: float = 100.0,
) -> dict[str, Any]:  # fmt: skip
    """Run the three parts (see the module docstring) and return the figures."""
    shards = shards or ([1, 2] if quick else [1, 2, 4])
    size = (10, 50, 20)
    n_plants = plants if plants is not None else (2 if quick else 10)
    work = Path(tempfile.mkdtemp(prefix="sdf-scale-"))
    with LocalCluster(masters=3) as cluster:
        memory = _memory(cluster, work, n_plants, size)
        cluster.flushall()
        plant_file = _plant_file(work, *size, seed=0)
        plant = load_plant(plant_file)
        store = TwinStore.from_url(cluster.url)
        store.load_plant(plant)
        store.close()
        servers = {line.id: LoadServerProcess(plant_file, line.id) for line in plant.lines}
        try:
            urls = {lid: s.start() for lid, s in servers.items()}
            window = 8.0 if quick else 20.0
            rows = [
                _measure(plant_file, plant, urls, n, cluster.url, work, window, interval_ms) for n in shards
            ]
        finally:
            for s in servers.values():
                s.stop()
        status_ms = _status_ms(cluster.url, plant)
    base = rows[0]["changes_per_s"] or 1
    for r in rows:
        r["ratio_to_1"] = round(r["changes_per_s"] / base, 2)
    return {
        "shards": rows,
        "tags": memory["tags"],
        "redis_mb_per_10k_tags": memory["redis_mb_per_10k_tags"],
        "memory": memory,
        "ingest_plant_tags": sum(len(e.tags()) for e in plant.equipment()),
        "offered_changes_per_s": round(sum(len(e.tags()) for e in plant.equipment()) / (interval_ms / 1000)),
        "status_ms_500_stations": status_ms,
        "cores": os.cpu_count(),
        "masters": 3,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }

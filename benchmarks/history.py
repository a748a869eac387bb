"""``twin bench history``: days of the demo plant in virtual time, archived, and KPIs from the archive.

1. The SimPy flow model runs the plant over ``days`` of virtual time (shift calendar on, sequences
   repeating), its changes written through the store into the Redis change stream in batches of the
   demo's publish cycle (6 plant seconds), as the adapters would;
2. the archive follower reads the stream after each simulated hour and writes Parquet (its CPU time is
   measured over exactly that work: ``archive_cpu_us_per_change``);
3. OEE per line per shift over all days from the archive in SQL (``kpi_query_s``) against the same computed
   by reading every change in Python with the live KPI engine :func:`twin.kpi.compute_kpis`
   (``kpi_baseline_s``); ``kpi_match``: both agree to 1e-6 on every line and shift.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import resource
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from twin.archive import ArchiveFs, Follower, FollowerOptions, MaintenanceOptions
from twin.archive.kpisql import KpiSession
from twin.archive.periods import Period, make_periods
from twin.archive.reader import ArchiveReader
from twin.archive.schema import decode_value
from twin.changes import Change
from twin.kpi import compute_kpis
from twin.model import Plant
from twin.sim import FlowSim, SimOptions
from twin.sim.defaultplan import default_plan
from twin.store import AsyncTwinStore, TwinStore

__all__ = ["archive_days", "baseline_oee", "run_history_bench", "sql_oee"]

#: Plant seconds per write (the demo's 100 ms publish cycle at 60x).
BATCH_S = 6.0
#: Virtual time 0 of the bench: a Monday 00:00 UTC.
ORIGIN = 1_704_067_200.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _writer(url: str, plant: Plant) -> tuple[asyncio.AbstractEventLoop, AsyncTwinStore]:
    loop = asyncio.new_event_loop()
    return loop, AsyncTwinStore.from_url(url, plant.id, {e.id: e.line for e in plant.equipment()})


async def _write_all(store: AsyncTwinStore, batches: list[list[Any]]) -> None:
    for b in batches:
        await store.write_changes(b, source="bench")


def archive_days(url: str, plant: Plant, data: Path, days: float, seed: int = 1) -> dict[str, Any]:
    """Simulate ``days`` into the stream (the adapters' write path: one script call per batch) and archive
    them hour by hour; returns counts and CPU figures."""
    batches: list[list[Any]] = []
    sim = FlowSim(
        plant,
        seed=seed,
        on_change=batches.append,
        clock=lambda t: ORIGIN + t,
        options=SimOptions(repeat_sequence=True, calendar=True, calendar_origin=ORIGIN),
    )
    sim.follow(default_plan(plant))
    fs = ArchiveFs(str(data))
    store = TwinStore.from_url(url, plant.id)
    opts = FollowerOptions(max_rows=500_000, maintenance=MaintenanceOptions(compact_after_s=0.0, min_files=2))
    follower = Follower(store, fs, plant.id, opts)
    follower.save_plant()
    loop, writer = _writer(url, plant)
    changes = 0
    archive_cpu = 0.0
    steps_per_hour = int(3600 / BATCH_S)
    try:
        for hour in range(math.ceil(days * 24)):
            for k in range(steps_per_hour):
                sim.advance((hour * steps_per_hour + k + 1) * BATCH_S)
            changes += sum(len(b) for b in batches)
            loop.run_until_complete(_write_all(writer, batches))
            batches.clear()
            c0 = _cpu()
            follower.catch_up()
            archive_cpu += _cpu() - c0
        c0 = _cpu()
        follower.cp = follower.maintenance.run(follower.cp, follower.stats.newest_ts + 7200, 0.0)
        compact_cpu = _cpu() - c0
    finally:
        loop.run_until_complete(writer.close())
        loop.close()
        store.close()
    files = fs.files("changes", plant.id)
    return {
        "changes": changes,
        "archived": follower.stats.changes,
        "files": len(files),
        "archive_bytes": fs.size(files),
        "archive_cpu_s": archive_cpu,
        "compact_cpu_s": compact_cpu,
    }


def shift_periods(plant: Plant, days: float) -> list[Period]:
    """Every shift of the bench's days."""
    return make_periods("shift", ORIGIN, ORIGIN + days * 86400.0, plant.calendar.shifts)


def sql_oee(reader: ArchiveReader, periods: list[Period]) -> dict[tuple[str, str], float | None]:
    """OEE per (shift, line) from the archive in DuckDB."""
    start, end = periods[0].start, periods[-1].end
    with KpiSession(reader, start, end, energy=False) as s:
        return {(r.period, r.id): r.oee for r in s.oee(periods, states=False) if r.scope == "line"}


def baseline_oee(
    reader: ArchiveReader, plant: Plant, periods: list[Period]
) -> dict[tuple[str, str], float | None]:
    """The same, reading every change of the archive into Python and running :func:`compute_kpis` per
    period (each series seeded with its last value before the period, as the live KPIs are)."""
    series: dict[tuple[str, str], list[tuple[float, Change]]] = defaultdict(list)
    for path in reader.files("changes"):
        t = pq.read_table(path).sort_by(
            [("entry_ms", "ascending"), ("entry_seq", "ascending"), ("pos", "ascending")]
        )
        cols = [t[c].to_pylist() for c in ("equipment", "tag", "kind", "num", "text", "quality", "ts_us")]
        for eq, tag, kind, num, text, q, ts in zip(*cols, strict=True):  # every change, in Python
            if tag in ("state", "part_count", "scrap_count") and q != "bad":
                series[(eq, tag)].append(
                    (ts / 1e6, Change(eq, tag, decode_value(kind, num, text), q, ts / 1e6))
                )
    for pts in series.values():
        pts.sort(key=lambda p: p[0])
    times = {k: [p[0] for p in pts] for k, pts in series.items()}
    out: dict[tuple[str, str], float | None] = {}
    for p in periods:
        window: list[Change] = []
        seed: list[Change] = []
        for k, pts in series.items():
            a = bisect.bisect_left(times[k], p.start)
            b = bisect.bisect_left(times[k], p.end)
            window.extend(c for _t, c in pts[a:b])
            if a:
                seed.append(pts[a - 1][1])
        rep = compute_kpis(plant, [window], p.start, p.end, seed=[seed])
        for line_id, kpi in rep.lines.items():
            out[(p.label, line_id)] = kpi.oee
    return out


def _agree(a: dict[tuple[str, str], float | None], b: dict[tuple[str, str], float | None]) -> bool:
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if (x is None) != (y is None) or (
            x is not None and y is not None and not math.isclose(x, y, abs_tol=1e-6)
        ):
            return False
    return True


def run_history_bench(url: str, plant: Plant, data: Path, days: float, repeats: int = 3) -> dict[str, Any]:
    """The bench's figures (see the module docstring); ``url``: a Redis with ``plant`` loaded."""
    t0 = time.perf_counter()
    arch = archive_days(url, plant, data, days)
    sim_wall = time.perf_counter() - t0
    reader = ArchiveReader(ArchiveFs(str(data)), plant.id)
    periods = shift_periods(plant, days)
    sql_times, base_times = [], []
    got: dict[tuple[str, str], float | None] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        got = sql_oee(reader, periods)
        sql_times.append(time.perf_counter() - t)
    want: dict[tuple[str, str], float | None] = {}
    for _ in range(1):  # the slow side: one run
        t = time.perf_counter()
        want = baseline_oee(reader, plant, periods)
        base_times.append(time.perf_counter() - t)
    oees = [v for v in got.values() if v is not None]
    return {
        "days": days,
        "changes": arch["changes"],
        "archive_bytes_per_change": round(arch["archive_bytes"] / max(1, arch["changes"]), 2),
        "kpi_query_s": round(statistics.median(sql_times), 4),
        "kpi_baseline_s": round(statistics.median(base_times), 3),
        "kpi_match": _agree(got, want),
        "archive_cpu_us_per_change": round(arch["archive_cpu_s"] / max(1, arch["changes"]) * 1e6, 3),
        "archived_changes": arch["archived"],
        "archive_files": arch["files"],
        "compact_cpu_us_per_change": round(arch["compact_cpu_s"] / max(1, arch["changes"]) * 1e6, 3),
        "shifts": len(periods),
        "oee_line_shift_median": round(statistics.median(oees), 4) if oees else None,
        "oee_line_shift_range": [round(min(oees), 4), round(max(oees), 4)] if oees else None,
        "simulate_and_archive_wall_s": round(sim_wall, 1),
    }

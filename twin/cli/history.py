"""``twin kpi``, ``twin history`` and ``twin bench history``: the archive's KPIs and values, and their bench.

Both read the archive (``--data-dir``), not Redis: the plant definition is stored beside the data, so a
report works with the twin down. Bad input (a reversed or unparsable range, an unknown line, station,
tag or shift) is one line naming the problem and exit code 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from twin.cli import app, bench_app
from twin.cli.archive import data_dir_option, local_data_dir
from twin.cli.common import DEFAULT_CONFIG, console, fail, print_json, settings
from twin.errors import NotFoundError, ValidationError

__all__ = ["bench_history", "history", "kpi"]


def _reader(ctx: typer.Context, data_dir: str) -> Any:
    from twin.archive import ArchiveFs
    from twin.archive.reader import ArchiveReader

    return ArchiveReader(ArchiveFs(local_data_dir(data_dir), create=False), settings(ctx).plant)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _print_report(rep: Any, station: str | None) -> None:
    scopes = {"station"} if station else {"line", "plant"}
    t = Table(title=f"OEE by {rep.by} ({rep.plant})", show_lines=False)
    for col in (
        "period",
        "scope",
        "id",
        "availability",
        "performance",
        "quality",
        "OEE",
        "vehicles",
        "kWh/veh",
    ):
        t.add_column(col, justify="right" if col not in ("period", "scope", "id") else "left")
    for r in rep.oee:
        if r.scope in scopes:
            t.add_row(r.period, r.scope, r.id, _pct(r.availability), _pct(r.performance), _pct(r.quality),
                      _pct(r.oee), _num(r.vehicles, 0), _num(r.kwh_per_vehicle, 2))  # fmt: skip
    console.print(t)
    down = Table(title="Downtime Pareto (top 8)")
    for col in ("station", "cause", "hours", "share", "cumulative"):
        down.add_column(col)
    for d in rep.downtime[:8]:
        down.add_row(d.station, d.cause, _num(d.seconds / 3600, 2), _pct(d.share), _pct(d.cumulative_share))
    console.print(down)
    rel = sorted((r for r in rep.reliability if r.failures), key=lambda r: -r.failures)[:8]
    mt = Table(title="MTBF / MTTR (most failures)")
    for col in ("station", "failures", "MTBF h", "MTTR min"):
        mt.add_column(col)
    for r in rel:
        mt.add_row(r.station, str(r.failures), _num((r.mtbf_s or 0) / 3600, 2), _num((r.mttr_s or 0) / 60, 1))
    console.print(mt)
    for e in rep.energy:
        if e.scope == "plant":
            console.print(f"{e.day}: {_num(e.energy_kwh, 0)} kWh, {_num(e.kwh_per_vehicle, 2)} kWh/vehicle, "
                          f"peak 15-min demand {_num(e.peak_15min_kw, 0)} kW", highlight=False)  # fmt: skip
    if rep.skipped_files:
        console.print(f"[yellow]{rep.skipped_files} broken archive file(s) skipped[/]")


@app.command()
def kpi(
    ctx: typer.Context,
    by: str = typer.Option(
        "shift", "--by", help="Group by shift (the plant's calendar), day, hour or range."
    ),
    since: str = typer.Option("7d", "--since", help="Start: a look-back (7d, 12h), an ISO time or epoch s."),
    until: str = typer.Option(None, "--until", help="End (default now), same forms as --since."),
    line: str = typer.Option(None, "--line", help="Only this line (its stations and its totals)."),
    station: str = typer.Option(None, "--station", help="Only this station."),
    shift: str = typer.Option(None, "--shift", help="Only this shift (with --by shift)."),
    json_out: bool = typer.Option(False, "--json", help="Everything as JSON (oee, throughput, ...)."),
    data_dir: str = data_dir_option(),
) -> None:
    """KPIs from the archive: OEE per shift/day/hour, throughput vs plan, MTBF/MTTR, downtime, energy."""
    from twin.archive.periods import time_range
    from twin.archive.report import kpi_history

    try:
        start, end = time_range(since, until, time.time())
        rep = kpi_history(_reader(ctx, data_dir), by, start, end, shift=shift, line=line, station=station)
    except (ValidationError, NotFoundError) as exc:
        fail(str(exc), code=2)
    if json_out:
        print_json(rep.model_dump())
        return
    _print_report(rep, station)


def _split_tag(text: str, plant: Any) -> tuple[str, str | None]:
    eq_id, _, tag = text.partition(".")
    eq = plant.equipment_by_id().get(eq_id)
    if eq is None:
        raise NotFoundError(
            f"unknown equipment {eq_id!r} in {text!r} (write EQUIPMENT.tag, e.g. L1-UB.state)"
        )
    if tag and tag not in {t.name for t in eq.tags()}:
        raise NotFoundError(f"{eq_id} has no tag {tag!r} (tags: {', '.join(t.name for t in eq.tags())})")
    return eq_id, tag or None


@app.command()
def history(
    ctx: typer.Context,
    tag: str = typer.Argument(..., help="EQUIPMENT.tag (e.g. L1-UB.state), or EQUIPMENT for every tag."),
    since: str = typer.Option("1h", "--since", help="Start: a look-back (1h, 7d), an ISO time or epoch s."),
    until: str = typer.Option(None, "--until", help="End (default now)."),
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    limit: int = typer.Option(100_000, "--limit", help="At most this many values."),
    data_dir: str = data_dir_option(),
) -> None:
    """Every archived value of a tag in a time range (PLC source time), oldest first."""
    from twin.archive.periods import time_range

    if fmt not in ("csv", "json"):
        fail(f"--format must be csv or json (got {fmt!r})", code=2)
    if limit < 1:
        fail(f"--limit must be >= 1 (got {limit})", code=2)
    reader = _reader(ctx, data_dir)
    try:
        start, end = time_range(since, until, time.time())
        eq, tag_name = _split_tag(tag, reader.plant())
    except (ValidationError, NotFoundError) as exc:
        fail(str(exc), code=2)
    rows: list[Any] = []
    after = None
    while len(rows) < limit:
        page = reader.history(eq, tag_name, start, end, after=after, limit=min(10_000, limit - len(rows)))
        rows += page.rows
        if page.next_after is None:
            break
        after = page.next_after
    if fmt == "json":
        print_json({"equipment": eq, "tag": tag_name, "start": start, "end": end,
                    "points": [r._asdict() for r in rows]})  # fmt: skip
        return
    out = csv.writer(sys.stdout)
    out.writerow(["id", "ts", "time", "equipment", "tag", "value", "quality"])
    for r in rows:
        when = dt.datetime.fromtimestamp(r.ts, dt.UTC).isoformat(timespec="milliseconds")
        value = json.dumps(r.value) if isinstance(r.value, list | dict) else r.value
        out.writerow([r.id, f"{r.ts:.6f}", when, r.equipment, r.tag, value, r.quality])


@bench_app.command("history")
def bench_history(
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    quick: bool = typer.Option(False, "--quick", help="One simulated day (under 60 s)."),
    days: float = typer.Option(None, "--days", help="Simulated days (default 7, 1 with --quick)."),
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
    keep: Path = typer.Option(None, "--keep", help="Keep the archive in this directory."),
) -> None:
    """Days of the demo plant in virtual time, archived; OEE per line per shift in SQL vs Python."""
    from benchmarks.history import run_history_bench
    from twin.config import load_plant
    from twin.embedded import EmbeddedRedis
    from twin.store import TwinStore

    n_days = days if days is not None else (1.0 if quick else 7.0)
    if n_days <= 0 or n_days > 60:
        fail(f"--days must be in (0, 60] (got {n_days})", code=2)
    plant = load_plant(config)
    with EmbeddedRedis() as redis, tempfile.TemporaryDirectory(prefix="sdf-bench-history-") as tmp:
        store = TwinStore.from_url(redis.url)
        store.load_plant(plant)
        store.close()
        data = keep or Path(tmp) / "archive"
        res = run_history_bench(redis.url, plant, data, n_days, repeats=3)
    if json_out:
        print_json(res)
        return
    for k, v in res.items():
        console.print(f"{k:32} {v}", highlight=False)

"""KPIs in SQL over the archive, on real files written by the follower from a real redis-server.

The live KPI engine (:mod:`twin.kpi`, Python over the change stream) is the reference: the archive's SQL
must give the same OEE factors, vehicles and time in state for every station, line and period (to the
archive's time resolution, 1 us).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from twin.archive import ArchiveFs, Follower
from twin.archive.kpisql import KpiSession
from twin.archive.periods import make_periods, parse_time, time_range
from twin.archive.reader import ArchiveReader
from twin.archive.report import kpi_history
from twin.errors import NotFoundError, ValidationError
from twin.kpi import compute_kpis
from twin.model import Plan, PlanAssignment, Plant
from twin.sim import FlowSim, SimOptions
from twin.sim.defaultplan import default_plan
from twin.store import TwinStore

T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
H = 3600.0


def _archive(store: TwinStore, plant: Plant, root: Path) -> ArchiveReader:
    Follower(store, ArchiveFs(str(root)), plant.id).catch_up()
    return ArchiveReader(ArchiveFs(str(root)))


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    )


def test_sql_kpis_match_the_live_kpi_engine_per_station_line_and_period(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    sim = FlowSim(
        mini_plant,
        seed=3,
        on_change=lambda b: store.write_changes(b, "sim"),
        clock=lambda t: T0 + t,
        options=SimOptions(repeat_sequence=True, calendar=True, calendar_origin=T0, fault_rate_scale=20),
    )
    sim.follow(default_plan(mini_plant))
    for k in range(int(30 * H / 60)):
        sim.advance((k + 1) * 60.0)
    reader = _archive(store, mini_plant, tmp_path)
    entries = [c for _i, _s, c in store.change_range()]
    periods = [
        *make_periods("hour", T0 + 5 * H, T0 + 15 * H, []),
        *make_periods("shift", T0, T0 + 30 * H, mini_plant.calendar.shifts),
    ]
    with KpiSession(reader, T0, T0 + 30 * H) as s:
        rows = s.oee(periods)
    checked = 0
    for p in periods:
        window = [[c for c in batch if p.start <= c.source_ts < p.end] for batch in entries]
        seed = [[c for c in batch if c.source_ts < p.start] for batch in entries]
        ref = compute_kpis(mini_plant, window, p.start, p.end, seed=seed)
        got = {(r.scope, r.id): r for r in rows if r.period == p.label}
        for scope, table in (("station", ref.stations), ("line", ref.lines)):
            for ident, k in table.items():
                if (scope, ident) not in got:
                    continue  # buffers, AGVs: no OEE row
                r = got[(scope, ident)]
                for field in ("availability", "performance", "quality", "oee", "vehicles", "energy_kwh"):
                    assert _close(getattr(r, field), getattr(k, field)), (p.label, ident, field)
                for state, secs in k.state_s.items():
                    assert math.isclose(r.state_s.get(state, 0.0), secs, abs_tol=1e-4), (
                        p.label,
                        ident,
                        state,
                    )
                checked += 1
        assert _close(got[("plant", mini_plant.id)].oee, ref.plant.oee)
    assert checked > 100
    shift_rows = [r for r in rows if r.shift == "day" and r.scope == "line" and r.oee is not None]
    assert shift_rows and all(0 < r.oee <= 1 for r in shift_rows)


def _state(store: TwinStore, eq: str, state: str, t: float) -> None:
    store.write_changes([(eq, "state", state, "good", T0 + t)])


def test_reliability_downtime_throughput_and_energy_from_hand_made_history(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    six = 6 * H
    for t, s in [
        (0, "Running"),
        (100, "Fault"),
        (160, "Running"),
        (1000, "Fault"),
        (1100, "Running"),
        (3600, "Starved"),
    ]:
        _state(store, "L1-WELD", s, six + t)
    for t, s in [(0, "Running"), (200, "Blocked"), (500, "Running")]:
        _state(store, "L1-ASSY", s, six + t)
    store.write_changes([("L1-ASSY", "part_count", 0, "good", T0 + six - 10)])  # the counter before
    for i, t in enumerate(range(0, 7200, 600)):  # 12 cars leave L1 in two hours
        store.write_changes([("L1-ASSY", "part_count", i + 1, "good", T0 + six + t + 1)])
    for t, kwh in [(0, 0.0), (300, 5.0), (600, 10.0), (1200, 11.0), (4000, 12.0)]:
        store.write_changes([("L1-WELD", "energy_kwh", kwh, "good", T0 + six + t)])
    store.put_plan(
        Plan(
            created_at=T0,
            meta={"origin": T0 + six},
            assignments=[PlanAssignment(resource="L1", model="A", quantity=10, start_s=0, end_s=2 * H)],
        )
    )
    reader = _archive(store, mini_plant, tmp_path)
    rep = kpi_history(reader, "hour", T0 + six, T0 + six + 2 * H)
    rel = {r.station: r for r in rep.reliability}
    weld = rel["L1-WELD"]
    assert weld.failures == 2 and weld.fault_s == pytest.approx(160.0) and weld.mttr_s == pytest.approx(80.0)
    assert weld.mtbf_s == pytest.approx((2 * H - 160) / 2)  # up (not Off, not Fault): Starved counts
    assert rel["L1-PAINT"].failures == 0 and rel["L1-PAINT"].mtbf_s is None
    top = rep.downtime[0]
    assert (top.station, top.cause, top.seconds) == ("L1-WELD", "Starved", pytest.approx(3600.0))
    assert [d.cause for d in rep.downtime if d.station == "L1-ASSY"] == ["Blocked"]
    assert rep.downtime[-1].cumulative_share == pytest.approx(1.0)
    l1 = [r for r in rep.throughput if r.line == "L1"]
    assert [(r.actual, r.target, r.plan_version) for r in l1] == [(6.0, 5.0, 1), (6.0, 5.0, 1)]
    plant_day = next(e for e in rep.energy if e.scope == "plant")
    assert plant_day.peak_15min_kw == pytest.approx(40.0) and plant_day.peak_at == T0 + six
    assert plant_day.energy_kwh == pytest.approx(12.0)
    line1 = next(e for e in rep.energy if e.id == "L1")
    assert line1.kwh_per_vehicle == pytest.approx(12.0 / 12)


def test_a_broken_file_is_skipped_with_a_warning(
    tmp_path: Path, store: TwinStore, mini_plant: Plant, caplog: pytest.LogCaptureFixture
) -> None:
    _state(store, "L1-WELD", "Running", 6 * H)
    reader = _archive(store, mini_plant, tmp_path)
    _state(store, "L1-WELD", "Fault", 7 * H)
    reader = _archive(store, mini_plant, tmp_path)
    broken = reader.files("changes")[-1]
    Path(broken).write_bytes(Path(broken).read_bytes()[:-9])  # a copy cut short
    caplog.set_level("WARNING")
    rep = kpi_history(ArchiveReader(ArchiveFs(str(tmp_path))), "range", T0 + 6 * H, T0 + 8 * H)
    assert rep.skipped_files == 1 and "not a whole Parquet file" in caplog.text
    weld = next(r for r in rep.oee if r.id == "L1-WELD")
    assert weld.state_s == {"Running": pytest.approx(2 * H)}  # the Fault of the broken file is not seen


def test_bad_ranges_shifts_and_names_are_refused_naming_the_problem(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    with pytest.raises(ValidationError, match="reversed"):
        time_range("1h", "2h", T0)
    with pytest.raises(ValidationError, match="--since 'yesterday-ish' is not a time"):
        time_range("yesterday-ish", None, T0)
    assert parse_time("2024-01-01T06:00", 0) == T0 + 6 * H
    assert parse_time("7d", T0) == T0 - 7 * 86400
    with pytest.raises(ValidationError, match=r"unknown shift 'night'.*day"):
        make_periods("shift", T0, T0 + H, mini_plant.calendar.shifts, "night")
    with pytest.raises(ValidationError, match="--by must be one of"):
        make_periods("week", T0, T0 + H, [])
    _state(store, "L1-WELD", "Running", 6 * H)
    reader = _archive(store, mini_plant, tmp_path)
    with pytest.raises(NotFoundError, match="unknown station 'NOPE'"):
        kpi_history(reader, "day", T0, T0 + H, station="NOPE")
    with pytest.raises(NotFoundError, match="unknown line 'L9'"):
        kpi_history(reader, "day", T0, T0 + H, line="L9")

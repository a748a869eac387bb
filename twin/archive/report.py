"""Every KPI of a time range from the archive, as the CLI (``twin kpi``) and the API serve them.

OEE (with time in state) grouped by shift, day, hour or the whole range; throughput against the plan per
hour; MTBF/MTTR and the downtime Pareto over the range; energy per vehicle and peak 15-minute demand per
day. Filters by line or station are checked against the plant (an unknown name is refused, naming it).
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.archive.kpimodels import KpiHistory, OeeRow
from twin.archive.kpisql import KpiSession
from twin.archive.periods import make_periods
from twin.archive.reader import ArchiveReader
from twin.errors import NotFoundError
from twin.model import Plant

__all__ = ["SECTIONS", "check_scope", "kpi_history"]

#: The parts of a report.
SECTIONS = ("oee", "throughput", "reliability", "downtime", "energy")


def check_scope(plant: Plant, line: str | None, station: str | None) -> None:
    """Refuse a line or station the plant does not have (naming what it has)."""
    if line is not None and line not in plant.line_by_id():
        raise NotFoundError(f"unknown line {line!r} (lines: {', '.join(plant.line_by_id())})")
    if station is not None and station not in plant.equipment_by_id():
        raise NotFoundError(
            f"unknown station {station!r} (e.g. {', '.join(list(plant.equipment_by_id())[:4])}, ...)"
        )


def _keep(rows: Iterable[OeeRow], line: str | None, station: str | None) -> list[OeeRow]:
    if station is not None:
        return [r for r in rows if r.scope == "station" and r.id == station]
    if line is not None:
        return [r for r in rows if r.line == line]
    return list(rows)


def kpi_history(
    reader: ArchiveReader,
    by: str,
    start: float,
    end: float,
    *,
    shift: str | None = None,
    line: str | None = None,
    station: str | None = None,
    sections: Iterable[str] = SECTIONS,
    lookback_s: float = 86400.0,
) -> KpiHistory:
    """The KPIs of ``[start, end)`` (see the module docstring); ``sections`` picks which are computed."""
    plant = reader.plant()
    check_scope(plant, line, station)
    periods = make_periods(by, start, end, plant.calendar.shifts, shift)
    want = set(sections)
    out = KpiHistory(plant=plant.id, by=by, start=start, end=end)
    energy = bool(want & {"oee", "energy"})
    with KpiSession(reader, start, end, lookback_s=lookback_s, energy=energy) as s:
        if "oee" in want:
            out.oee = _keep(s.oee(periods), line, station)
        if "throughput" in want:
            rows = s.throughput(make_periods("hour", start, end, []))
            out.throughput = [r for r in rows if line is None or r.line == line]
        if "reliability" in want:
            out.reliability = [r for r in s.reliability() if _match(r.station, r.line, line, station)]
        if "downtime" in want:
            out.downtime = [r for r in s.downtime() if _match(r.station, r.line, line, station)]
        if "energy" in want:
            rows_e = s.energy(make_periods("day", start, end, []))
            out.energy = [r for r in rows_e if line is None or r.id == line]
    out.skipped_files = len(reader.skipped())
    return out


def _match(eq: str, eq_line: str, line: str | None, station: str | None) -> bool:
    return (station is None or eq == station) and (line is None or eq_line == line)

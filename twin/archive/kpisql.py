"""The KPI engine on the archive: SQL in DuckDB over the Parquet files, never a Python loop over changes.

The range's rows of the KPI tags are read from Parquet once (``chm``, in memory); three temporary tables
carry the work (built once per query session over the range plus a look-back):

- ``iv``: each station's state intervals (a state change lasts until the next one, ``lead()``), with the
  state as a name (the PLC's integer code or any-case name, as :func:`twin.kpi.state_name` reads it);
- ``cinc``: counter points (``part_count``, ``scrap_count``, ``energy_kwh``) with their increase over the
  previous point (``lag()``; a drop is a reset: the new value counts from zero);
- ``periods``: the groups asked for (shifts from the plant's calendar, days, hours or one range).

Intervals are cut to each period (an interval join), counter increases summed by the period of their
point. The state and counter values before a period come from the ``lookback_s`` before the range
(default a day: a station silent for longer has no known state at the range start, as with the live KPIs).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from twin.archive.kpimodels import DowntimeRow, EnergyRow, OeeRow, ReliabilityRow, ThroughputRow
from twin.archive.periods import Period
from twin.archive.reader import ArchiveReader
from twin.errors import ArchiveError
from twin.kpi import finishing_stations, ideal_cycles
from twin.model import PROCESSING_TYPES, LineKind, Plant, StationState

__all__ = ["KPI_TAGS", "KpiSession"]

#: The tags the KPI engine reads.
KPI_TAGS = ("state", "part_count", "scrap_count", "energy_kwh")
_COUNTERS = ("part_count", "scrap_count", "energy_kwh")
_DOWN = ("Fault", "Blocked", "Starved")

_PREPARE = """
CREATE OR REPLACE TEMP TABLE chm AS
SELECT equipment, tag, ts_us, entry_ms, entry_seq, pos, kind, num, text FROM ch;
CREATE OR REPLACE TEMP TABLE iv AS
WITH s AS (
  SELECT ch.equipment, ch.ts_us / 1e6 AS ts, ch.entry_ms, ch.entry_seq, ch.pos,
         CASE WHEN ch.kind = 4 THEN coalesce(sn.name, ch.text)
              WHEN ch.kind IN (2, 3) AND ch.num = floor(ch.num) THEN sc.name END AS state
  FROM chm ch
  LEFT JOIN states sn ON ch.kind = 4 AND lower(trim(ch.text)) = sn.lname
  LEFT JOIN states sc ON ch.kind IN (2, 3) AND ch.num = sc.code
  WHERE ch.tag = 'state'
)
SELECT equipment, state, ts AS t0,
       coalesce(lead(ts) OVER (PARTITION BY equipment ORDER BY ts, entry_ms, entry_seq, pos), {hi}) AS t1,
       lag(state) OVER (PARTITION BY equipment ORDER BY ts, entry_ms, entry_seq, pos) AS prev
FROM s;
CREATE OR REPLACE TEMP TABLE cinc AS
SELECT equipment, tag, ts_us / 1e6 AS ts, num,
       num - lag(num) OVER (PARTITION BY equipment, tag ORDER BY ts_us, entry_ms, entry_seq, pos) AS delta
FROM chm WHERE tag IN ('part_count', 'scrap_count', 'energy_kwh') AND kind IN (2, 3) AND isfinite(num);
"""

_STATIONS = """
CREATE OR REPLACE TEMP TABLE dur AS
SELECT p.pid, iv.equipment, iv.state, sum(least(iv.t1, p.p1) - greatest(iv.t0, p.p0)) AS secs
FROM iv JOIN periods p ON iv.t0 < p.p1 AND iv.t1 > p.p0
WHERE iv.state IS NOT NULL GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE st AS
WITH ds AS (
  SELECT pid, equipment, sum(secs) AS observed,
         coalesce(sum(secs) FILTER (WHERE state = 'Running'), 0) AS running,
         coalesce(sum(secs) FILTER (WHERE state = 'Off'), 0) AS off_s
  FROM dur GROUP BY ALL
),
inc AS (
  SELECT p.pid, c.equipment, c.tag,
         sum(CASE WHEN c.delta IS NULL THEN 0 WHEN c.delta >= 0 THEN c.delta ELSE c.num END) AS v
  FROM cinc c JOIN periods p ON c.ts >= p.p0 AND c.ts < p.p1 GROUP BY ALL
),
first_pt AS (SELECT equipment, tag, min(ts) AS t FROM cinc GROUP BY ALL),
grid AS (SELECT p.*, e.* FROM periods p CROSS JOIN eqs e),
cnt AS (
  SELECT g.pid, g.equipment, t.tag, coalesce(i.v, CASE WHEN f.t < g.p0 THEN 0.0 END) AS v
  FROM grid g CROSS JOIN (VALUES ('part_count'), ('scrap_count'), ('energy_kwh')) t(tag)
  LEFT JOIN inc i ON i.pid = g.pid AND i.equipment = g.equipment AND i.tag = t.tag
  LEFT JOIN first_pt f ON f.equipment = g.equipment AND f.tag = t.tag
),
k AS (
  SELECT g.pid, g.equipment, g.line, g.proc, g.ideal, g.last_proc, g.cells,
         coalesce(ds.observed, 0) AS observed, coalesce(ds.running, 0) AS running,
         coalesce(ds.off_s, 0) AS off_s,
         pc.v AS parts, sc.v AS scrap, en.v AS energy
  FROM grid g LEFT JOIN ds ON ds.pid = g.pid AND ds.equipment = g.equipment
  LEFT JOIN cnt pc ON pc.pid = g.pid AND pc.equipment = g.equipment AND pc.tag = 'part_count'
  LEFT JOIN cnt sc ON sc.pid = g.pid AND sc.equipment = g.equipment AND sc.tag = 'scrap_count'
  LEFT JOIN cnt en ON en.pid = g.pid AND en.equipment = g.equipment AND en.tag = 'energy_kwh'
)
SELECT *,
  CASE WHEN observed > 0 AND observed - off_s > 0 THEN running / (observed - off_s) END AS availability,
  CASE WHEN ideal > 0 AND parts IS NOT NULL AND running > 0 THEN least(ideal * parts / running, 1.0) END
    AS performance,
  CASE WHEN parts IS NOT NULL AND parts <> 0 THEN greatest(0.0, (parts - coalesce(scrap, 0)) / parts) END
    AS quality,
  CASE WHEN observed > 0 THEN running / observed END AS utilisation
FROM k;
"""

_OEE = """
WITH s AS (SELECT *, availability * performance * quality AS oee FROM st),
lines AS (
  SELECT pid, 'line' AS scope, line AS id, line,
         max(observed) FILTER (WHERE proc) AS observed, sum(running) FILTER (WHERE proc) AS running,
         avg(availability) FILTER (WHERE proc) AS availability,
         avg(performance) FILTER (WHERE proc) AS performance,
         avg(quality) FILTER (WHERE proc) AS quality, avg(oee) FILTER (WHERE proc) AS oee,
         avg(utilisation) FILTER (WHERE proc) AS utilisation,
         sum(parts) FILTER (WHERE last_proc) AS vehicles,
         sum(energy) AS energy
  FROM s GROUP BY pid, line
),
plant AS (
  SELECT s.pid, 'plant' AS scope, '{plant}' AS id, NULL AS line,
         max(observed) FILTER (WHERE proc), sum(running) FILTER (WHERE proc),
         avg(availability) FILTER (WHERE proc), avg(performance) FILTER (WHERE proc),
         avg(quality) FILTER (WHERE proc), avg(oee) FILTER (WHERE proc), avg(utilisation) FILTER (WHERE proc),
         (SELECT sum(vehicles) FROM lines l WHERE l.pid = s.pid),
         (SELECT sum(energy) FROM lines l WHERE l.pid = s.pid)
  FROM s GROUP BY s.pid
)
SELECT pid, 'station', equipment, line, observed, running, availability, performance, quality, oee,
       utilisation,
       parts, energy FROM s WHERE proc
UNION ALL SELECT * FROM lines
UNION ALL SELECT * FROM plant
"""

_STATE_S = """
SELECT d.pid, 'station' AS scope, d.equipment AS id, d.state, sum(d.secs) FROM dur d GROUP BY ALL
UNION ALL SELECT d.pid, 'line', e.line, d.state, sum(d.secs) FROM dur d JOIN eqs e USING (equipment)
  WHERE e.proc GROUP BY ALL
UNION ALL SELECT d.pid, 'plant', '{plant}', d.state, sum(d.secs) FROM dur d JOIN eqs e USING (equipment)
  WHERE e.proc GROUP BY ALL
"""


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


class KpiSession:
    """One DuckDB session over a range of the archive: prepare once, then ask for each KPI."""

    def __init__(
        self,
        reader: ArchiveReader,
        start: float,
        end: float,
        *,
        lookback_s: float = 86400.0,
        energy: bool = True,
    ) -> None:
        self.reader = reader
        self.plant: Plant = reader.plant()
        self.start, self.end = start, end
        self.con: duckdb.DuckDBPyConnection = reader.connect()
        # energy_kwh is most of the rows (a sample every few seconds): read only when asked for
        tags = KPI_TAGS if energy else tuple(t for t in KPI_TAGS if t != "energy_kwh")
        self._static_tables()
        for attempt in (1, 2):  # a compaction may replace files between listing and reading: list again
            reader.changes(self.con, start - lookback_s, end, tags)
            try:
                self.con.execute(_PREPARE.format(hi=repr(float(end))))
                break
            except duckdb.IOException as exc:
                if attempt == 2:
                    raise ArchiveError(f"cannot read the archive at {reader.fs.url}: {exc}") from exc

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()

    def __enter__(self) -> KpiSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _static_tables(self) -> None:
        cycles = ideal_cycles(self.plant)
        finishing = finishing_stations(self.plant)
        rows: dict[str, list[Any]] = defaultdict(list)
        for line in self.plant.lines:
            for e in line.equipment:
                rows["equipment"].append(e.id)
                rows["line"].append(line.id)
                rows["proc"].append(e.type in PROCESSING_TYPES)
                rows["ideal"].append(cycles.get(e.id))
                rows["last_proc"].append(e.id in finishing)
                rows["cells"].append(line.kind == LineKind.CELLS)
        self.con.register("eqs", pa.table(rows))
        names = [s.value for s in StationState]
        self.con.register(
            "states",
            pa.table({"code": list(range(len(names))), "name": names, "lname": [n.lower() for n in names]}),
        )

    def _periods(self, periods: Sequence[Period]) -> None:
        self.con.register(
            "periods",
            pa.table(
                {
                    "pid": list(range(len(periods))),
                    "label": [p.label for p in periods],
                    "shift": [p.shift for p in periods],
                    "p0": [float(p.start) for p in periods],
                    "p1": [float(p.end) for p in periods],
                }
            ),
        )
        self.con.execute(_STATIONS)

    # ------------------------------------------------------------------ OEE and time in state
    def oee(self, periods: Sequence[Period], *, states: bool = True) -> list[OeeRow]:
        """Station, line and plant rows for each period (in period order)."""
        self._periods(periods)
        plant = self.plant.id.replace("'", "''")
        rows = self.con.execute(_OEE.format(plant=plant)).fetchall()
        per_state: dict[tuple[int, str, str], dict[str, float]] = defaultdict(dict)
        if states:
            for pid, scope, ident, state, secs in self.con.execute(_STATE_S.format(plant=plant)).fetchall():
                per_state[(pid, scope, ident)][state] = secs
        order = {"plant": 0, "line": 1, "station": 2}
        out = []
        for r in sorted(rows, key=lambda r: (r[0], order[r[1]], r[2])):
            pid, scope, ident, line, observed, running, av, perf, qual, oee, util, vehicles, energy = r
            p = periods[pid]
            out.append(
                OeeRow(
                    period=p.label,
                    shift=p.shift,
                    start=p.start,
                    end=p.end,
                    scope=scope,
                    id=ident,
                    line=line,
                    observed_s=observed or 0.0,
                    running_s=running or 0.0,
                    availability=av,
                    performance=perf,
                    quality=qual,
                    oee=oee,
                    utilisation=util,
                    vehicles=vehicles,
                    energy_kwh=energy,
                    kwh_per_vehicle=_ratio(energy, vehicles),
                    state_s=per_state.get((pid, scope, ident), {}),
                )
            )
        return out

    # ------------------------------------------------------------------ throughput against the plan
    def throughput(self, hours: Sequence[Period]) -> list[ThroughputRow]:
        """Per line and period: cars finished and the target of the plan in force at the period's start
        (a lot's cars spread evenly over its planned time; the newest plan created before the period)."""
        actual = {(r.period, r.id): r.vehicles for r in self.oee(hours, states=False) if r.scope == "line"}
        self.reader.view(self.con, "plans", "plans", self.reader.files("plans"))
        self.con.register("res_line", pa.table(_resource_lines(self.plant)))
        targets = self.con.execute("""
            WITH v AS (SELECT DISTINCT version, created_at FROM plans),
            inforce AS (
              SELECT p.pid, p.p0, p.p1, coalesce(max(v.version) FILTER (WHERE v.created_at <= p.p0),
                                                 min(v.version) FILTER (WHERE v.created_at < p.p1)) AS version
              FROM periods p CROSS JOIN v GROUP BY ALL
            )
            SELECT i.pid, r.line, i.version,
                   sum(pl.quantity * greatest(0, least(pl.end_ts, i.p1) - greatest(pl.start_ts, i.p0))
                       / (pl.end_ts - pl.start_ts)) AS target
            FROM inforce i JOIN plans pl ON pl.version = i.version JOIN res_line r ON r.resource = pl.resource
            WHERE pl.end_ts > pl.start_ts GROUP BY ALL
        """).fetchall()
        target = {(pid, line): (t, v) for pid, line, v, t in targets}
        out = []
        for pid, p in enumerate(hours):
            for line in self.plant.lines:
                t, v = target.get((pid, line.id), (None, None))
                out.append(
                    ThroughputRow(
                        period=p.label,
                        start=p.start,
                        end=p.end,
                        line=line.id,
                        actual=actual.get((p.label, line.id)),
                        target=t,
                        plan_version=v,
                    )
                )
        return out

    # ------------------------------------------------------------------ reliability and downtime
    def reliability(self) -> list[ReliabilityRow]:
        """MTBF and MTTR per station over the session's range."""
        self._periods([Period("range", "", self.start, self.end)])
        rows = self.con.execute(f"""
            WITH f AS (
              SELECT equipment, count(*) AS failures FROM iv
              WHERE state = 'Fault' AND prev IS DISTINCT FROM 'Fault'
                AND t0 >= {self.start!r} AND t0 < {self.end!r}
              GROUP BY ALL
            ),
            d AS (
              SELECT equipment, sum(secs) FILTER (WHERE state NOT IN ('Off', 'Fault')) AS operating,
                     coalesce(sum(secs) FILTER (WHERE state = 'Fault'), 0) AS fault_s
              FROM dur GROUP BY ALL
            )
            SELECT e.equipment, e.line, coalesce(f.failures, 0), coalesce(d.operating, 0),
                   coalesce(d.fault_s, 0)
            FROM eqs e LEFT JOIN f USING (equipment) LEFT JOIN d USING (equipment) WHERE e.proc
            ORDER BY e.equipment
        """).fetchall()
        return [
            ReliabilityRow(
                station=eq,
                line=line,
                failures=n,
                operating_s=op,
                fault_s=fs,
                mtbf_s=op / n if n else None,
                mttr_s=fs / n if n else None,
            )
            for eq, line, n, op, fs in rows
        ]

    def downtime(self, top: int | None = None) -> list[DowntimeRow]:
        """The downtime Pareto over the range: Fault, Blocked, Starved seconds by station, largest first."""
        self._periods([Period("range", "", self.start, self.end)])
        rows = self.con.execute("""
            SELECT d.equipment, e.line, d.state, sum(d.secs) AS s FROM dur d JOIN eqs e USING (equipment)
            WHERE e.proc AND d.state IN ('Fault', 'Blocked', 'Starved') AND d.secs > 0
            GROUP BY ALL ORDER BY s DESC, d.equipment, d.state
        """).fetchall()
        total = sum(r[3] for r in rows) or 1.0
        out, cum = [], 0.0
        for eq, line, cause, secs in rows[: top or None]:
            cum += secs
            out.append(
                DowntimeRow(
                    station=eq,
                    line=line,
                    cause=cause,
                    seconds=secs,
                    share=secs / total,
                    cumulative_share=cum / total,
                )
            )
        return out

    # ------------------------------------------------------------------ energy
    def energy(self, days: Sequence[Period]) -> list[EnergyRow]:
        """Per day: kWh and kWh per vehicle of each line and the plant, and the plant's peak 15-min demand."""
        rows = [r for r in self.oee(days, states=False) if r.scope in ("line", "plant")]
        peaks = self.con.execute("""
            WITH q AS (
              SELECT floor(ts / 900) * 900 AS q0,
                     sum(CASE WHEN delta IS NULL THEN 0 WHEN delta >= 0 THEN delta ELSE num END) AS kwh
              FROM cinc WHERE tag = 'energy_kwh' GROUP BY ALL
            )
            SELECT p.pid, max(q.kwh) * 4 AS kw, arg_max(q.q0, q.kwh) FROM periods p
            JOIN q ON q.q0 >= p.p0 AND q.q0 < p.p1 GROUP BY ALL
        """).fetchall()
        label_of = {p.label: i for i, p in enumerate(days)}
        peak = {pid: (kw, at) for pid, kw, at in peaks}
        out = []
        for r in rows:
            kw, at = peak.get(label_of[r.period], (None, None)) if r.scope == "plant" else (None, None)
            out.append(
                EnergyRow(
                    day=r.period,
                    start=r.start,
                    end=r.end,
                    scope=r.scope,
                    id=r.id,
                    energy_kwh=r.energy_kwh,
                    vehicles=r.vehicles,
                    kwh_per_vehicle=r.kwh_per_vehicle,
                    peak_15min_kw=kw if kw is None or math.isfinite(kw) else None,
                    peak_at=at,
                )
            )
        return out


def _resource_lines(plant: Plant) -> dict[str, list[str]]:
    """Plan resources -> line: a line or block id, a cell; a flow line's first station (as the simulator
    reads plans: other stations of a flow line repeat the same cars)."""
    res: list[str] = []
    lines: list[str] = []
    for line in plant.lines:
        res.append(line.id)
        lines.append(line.id)
        procs = [e for e in line.equipment if e.type in PROCESSING_TYPES]
        for e in procs if line.kind == LineKind.CELLS else procs[:1]:
            res.append(e.id)
            lines.append(line.id)
    return {"resource": res, "line": lines}

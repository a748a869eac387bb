"""Plan checks in virtual time: :func:`simulate_plan` runs a plan once per seed, :func:`check_plan`
aggregates several seeds into a :class:`CheckResult` (what the scheduler's plan check reads).

Each run also meters the plant's power as a utility does: the energy of every clock quarter-hour (t=0 at
the plan's ``meta["origin"]``), so a check reports its simulated 15-minute peak."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.errors import ValidationError
from twin.model import EquipmentType, Plan, Plant, StationState
from twin.sim.engine import FlowSim
from twin.sim.options import EPS as _EPS
from twin.sim.options import SimOptions
from twin.sim.unit import Unit

__all__ = ["METER_S", "CheckResult", "SeedResult", "check_plan", "simulate_plan"]

#: The metering interval of a simulated run (a utility's 15 minutes).
METER_S = 900


@dataclass
class SeedResult:
    """Outcome of one simulated run of a plan."""

    seed: int
    horizon_s: float
    planned: dict[str, int]
    completed: dict[str, int]
    fulfilment: float
    energy_kwh: float
    kwh_per_vehicle: float | None
    makespan_s: float
    faults: int
    lines: dict[str, dict[str, float]] = field(default_factory=dict)
    #: ``(start_s, kW)`` per clock quarter-hour: the average power the meter records.
    kw_15min: list[tuple[float, float]] = field(default_factory=list)
    peak_kw_15min: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class CheckResult:
    """Per-seed results and their aggregate (means; minimum fulfilment)."""

    per_seed: list[SeedResult]
    aggregate: dict[str, Any]

    @property
    def meets_demand(self) -> bool:
        """True if every seed completed everything the plan asked for."""
        return bool(self.aggregate.get("fulfilment_min", 0.0) >= 1.0 - _EPS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {"per_seed": [r.to_dict() for r in self.per_seed], "aggregate": self.aggregate}


def _line_stats(sim: FlowSim, horizon_s: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for gid, g in sim.groups.items():
        procs = [u for u in g.units if u.eq.type in (EquipmentType.STATION, EquipmentType.CELL)]
        if not procs:
            continue
        n = len(procs)

        def mean(states: tuple[StationState, ...], procs: list[Unit] = procs, n: int = n) -> float:
            return sum(u.time_in[s] for u in procs for s in states) / n

        busy = mean((StationState.RUNNING, StationState.CHANGEOVER))
        out[gid] = {
            "busy_s": round(busy, 3),
            "idle_s": round(mean((StationState.IDLE, StationState.STARVED, StationState.BLOCKED)), 3),
            "off_s": round(mean((StationState.OFF,)), 3),
            "fault_s": round(mean((StationState.FAULT,)), 3),
            "utilisation": round(busy / horizon_s, 4) if horizon_s > 0 else 0.0,
            "energy_kwh": round(sum(u.energy_kwh for u in g.units), 3),
            "completed": float(sum(g.completed.values())),
        }
    return out


def _with_origin(options: SimOptions | None, plan: Plan) -> SimOptions | None:
    """With the calendar on and no origin given, place t=0 at the plan's ``meta["origin"]``."""
    if options is None or not options.calendar or options.calendar_origin is not None:
        return options
    origin = plan.meta.get("origin")
    if isinstance(origin, int | float) and not isinstance(origin, bool):
        return dataclasses.replace(options, calendar_origin=float(origin))
    return options


def _meter(sim: FlowSim, first_s: float, out: list[tuple[float, float, float]]) -> Generator[Any, Any, None]:
    """Record the plant's energy at every quarter-hour boundary (``first_s``, then every 900 s) as closed
    slots ``(start, end, kWh)``."""
    start, before, t = 0.0, 0.0, first_s
    while True:
        yield sim.env.timeout(t - sim.env.now)
        for u in sim.units.values():
            u.integrate()
        energy = sum(u.energy_kwh for u in sim.units.values())
        out.append((start, t, energy - before))
        start, before, t = t, energy, t + METER_S


def _metered_kw(
    slots: list[tuple[float, float, float]], energy_kwh: float, horizon_s: float
) -> list[tuple[float, float]]:
    """``(start, average kW)`` per slot, the last one (still open at the horizon) closed with what is left."""
    start = slots[-1][1] if slots else 0.0
    closed = [(a, e) for a, _b, e in slots]
    if start < horizon_s:
        closed.append((start, max(0.0, energy_kwh - sum(e for _a, e in closed))))
    return [(round(a, 3), round(e * 3600.0 / METER_S, 2)) for a, e in closed]


def simulate_plan(
    plant: Plant, plan: Plan, horizon_s: float, seed: int = 0, options: SimOptions | None = None
) -> SeedResult:
    """Run ``plan`` for ``horizon_s`` virtual seconds with one seed."""
    if horizon_s <= 0:
        raise ValidationError(f"horizon must be > 0 s (got {horizon_s})")
    sim = FlowSim(plant, seed=seed, options=_with_origin(options, plan))
    sim.follow(plan)
    planned: dict[str, int] = {}
    for g in sim.groups.values():
        for m, q in g.planned.items():
            planned[m] = planned.get(m, 0) + q
    origin = plan.meta.get("origin")
    offset = float(origin) % METER_S if isinstance(origin, int | float) else 0.0
    metered: list[tuple[float, float, float]] = []
    sim.env.process(_meter(sim, METER_S - offset if offset else float(METER_S), metered))
    sim.env.run(until=horizon_s)
    for u in sim.units.values():
        u.integrate()
    total_planned = sum(planned.values())
    met = sum(min(sim.completed.get(m, 0), q) for m, q in planned.items())
    energy = sum(u.energy_kwh for u in sim.units.values())
    done = sum(sim.completed.values())
    kw_15min = _metered_kw(metered, energy, horizon_s)
    return SeedResult(
        seed=seed,
        horizon_s=horizon_s,
        planned=planned,
        completed=dict(sorted(sim.completed.items())),
        fulfilment=round(met / total_planned, 6) if total_planned else 1.0,
        energy_kwh=round(energy, 3),
        kwh_per_vehicle=round(energy / done, 4) if done else None,
        makespan_s=round(sim.last_completion_s, 3),
        faults=sim.faults,
        lines=_line_stats(sim, horizon_s),
        kw_15min=kw_15min,
        peak_kw_15min=max((kw for _s, kw in kw_15min), default=0.0),
    )


def check_plan(
    plant: Plant,
    plan: Plan,
    horizon_s: float,
    seeds: Sequence[int] = (0, 1, 2),
    options: SimOptions | None = None,
) -> CheckResult:
    """Simulate ``plan`` in virtual time once per seed; deterministic per seed.

    The aggregate holds means over seeds of completed cars per model, energy, kWh per vehicle, makespan and
    per-line busy/idle/off seconds, and the mean and minimum fulfilment ratio (cars completed within the
    horizon, capped per model at what was planned, over cars planned). With ``options.calendar`` the plant
    works only inside its shifts (t=0 at ``options.calendar_origin``, else the plan's ``meta["origin"]``).
    """
    if not seeds:
        raise ValidationError("check_plan needs at least one seed")
    runs = [simulate_plan(plant, plan, horizon_s, s, options) for s in seeds]
    models = sorted({m for r in runs for m in (*r.planned, *r.completed)})
    kwh = [r.kwh_per_vehicle for r in runs if r.kwh_per_vehicle is not None]
    lines: dict[str, dict[str, float]] = {}
    for gid in runs[0].lines:
        keys = runs[0].lines[gid].keys()
        lines[gid] = {k: round(statistics.fmean(r.lines[gid][k] for r in runs), 4) for k in keys}
    agg: dict[str, Any] = {
        "seeds": list(seeds),
        "horizon_s": horizon_s,
        "planned": runs[0].planned,
        "completed_mean": {m: statistics.fmean(r.completed.get(m, 0) for r in runs) for m in models},
        "completed_min": {m: min(r.completed.get(m, 0) for r in runs) for m in models},
        "fulfilment_mean": round(statistics.fmean(r.fulfilment for r in runs), 6),
        "fulfilment_min": min(r.fulfilment for r in runs),
        "energy_kwh_mean": round(statistics.fmean(r.energy_kwh for r in runs), 3),
        "kwh_per_vehicle_mean": round(statistics.fmean(kwh), 4) if kwh else None,
        "makespan_s_mean": round(statistics.fmean(r.makespan_s for r in runs), 3),
        "makespan_s_max": max(r.makespan_s for r in runs),
        "faults_mean": statistics.fmean(r.faults for r in runs),
        "peak_kw_15min": [r.peak_kw_15min for r in runs],
        "lines": lines,
    }
    return CheckResult(per_seed=runs, aggregate=agg)

"""The SimPy flow model: conservation, blocking/starving, faults, changeovers, power, determinism, checks."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from twin.config import parse_plant
from twin.errors import ValidationError
from twin.model import Plan, PlanAssignment, Plant
from twin.sim import FlowSim, SimOptions, check_plan, default_plan, simulate_plan

EXACT = SimOptions(cycle_cv=0.0, faults=False)


def plant_yaml(stations: str, models: str, extra: str = "") -> Plant:
    """A one-line plant from YAML snippets."""
    return parse_plant(
        f"""
id: t
lines:
  - id: L
    kind: mixed
    equipment:
{stations}
models:
{models}
{extra}
"""
    )


def plan(*lots: tuple[str, str, int], start: float = 0.0) -> Plan:
    """A plan of ``(resource, model, qty)`` lots."""
    return Plan(
        assignments=[
            PlanAssignment(resource=r, model=m, quantity=q, start_s=start, end_s=start) for r, m, q in lots
        ]
    )


class Recorder:
    """Collects every published batch, in order."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str, Any, str, float]]] = []

    def __call__(self, batch: list[tuple[str, str, Any, str, float]]) -> None:
        self.batches.append(batch)

    def series(self, eq: str, tag: str) -> list[Any]:
        """Values of one tag in publication order."""
        return [v for b in self.batches for e, t, v, _q, _ts in b if e == eq and t == tag]


def run_recorded(
    p: Plant, pl: Plan, until: float, options: SimOptions, seed: int = 0
) -> tuple[FlowSim, Recorder]:
    rec = Recorder()
    sim = FlowSim(p, seed=seed, options=options, on_change=rec)
    sim.follow(pl)
    t = 0.0
    while t < until:
        t += 1.0
        sim.advance(t)
    return sim, rec


def test_hand_computed_throughput(mini_plant: Plant) -> None:
    # L1 builds A: weld 60 s, paint 90 s (bottleneck), assemble 45 s.
    # First car out at 60+90+45 = 195 s, then one every 90 s.
    pl = plan(("L1", "A", 10))
    full = simulate_plan(mini_plant, pl, 3600, options=EXACT)
    assert full.completed == {"A": 10}
    assert full.makespan_s == pytest.approx(195 + 9 * 90)
    assert full.fulfilment == 1.0
    part = simulate_plan(mini_plant, pl, 600, options=EXACT)
    assert part.completed == {"A": 5}  # 195, 285, 375, 465, 555
    assert part.fulfilment == pytest.approx(0.5)
    # With 5% cycle variance the count stays within one car of the hand computation.
    res = check_plan(mini_plant, pl, 600, seeds=[1, 2, 3], options=SimOptions(faults=False))
    for r in res.per_seed:
        assert abs(r.completed.get("A", 0) - 5) <= 1
    assert set(res.aggregate) >= {
        "completed_mean",
        "fulfilment_mean",
        "fulfilment_min",
        "energy_kwh_mean",
        "kwh_per_vehicle_mean",
        "makespan_s_mean",
        "lines",
    }
    assert not res.meets_demand
    assert check_plan(mini_plant, pl, 3600, seeds=[0], options=EXACT).meets_demand


def test_flow_conservation_and_buffer_capacity_with_blocking() -> None:
    # Fast first station, buffer of 2, slow second station: the first one must block.
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10, idle_power_kw: 1}
      - {id: B, type: buffer, capacity: 2}
      - {id: S2, operations: [b], power_kw: 10, idle_power_kw: 1}""",
        """  - id: M
    routing: [{operation: a, cycle_s: 10}, {operation: b, cycle_s: 60}]""",
    )
    sim, rec = run_recorded(p, plan(("L", "M", 20)), 1300, SimOptions(cycle_cv=0.1, faults=False))
    levels = rec.series("B", "level")
    assert max(levels) == 2  # reached capacity, never beyond
    assert "Blocked" in rec.series("S1", "state")
    assert "Blocked" in rec.series("B", "state")
    s1 = rec.series("S1", "part_count")
    s2 = rec.series("S2", "part_count")
    assert s2[-1] <= s1[-1] <= 20
    assert sim.completed.get("M", 0) == s2[-1]
    # Cars in the line are exactly those released and not finished.
    in_line = s1[-1] - s2[-1]
    assert 0 <= in_line <= 2 + 1  # buffer plus the part S2 is working on


def state(sim: FlowSim, eq: str) -> str:
    return str(sim.snapshot()[eq]["state"])


def test_a_line_waiting_for_a_later_lot_is_idle_not_starved() -> None:
    # A plan dispatched before its shift: the lot starts at t=300. Until then the line waits for the plan,
    # not for upstream: S2 and the conveyor are Idle. Once the first car is released S2 starves behind the
    # slow S1 and the conveyor runs.
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10, idle_power_kw: 1}
      - {id: CV, type: conveyor, power_kw: 2, idle_power_kw: 1}
      - {id: S2, operations: [b], power_kw: 10, idle_power_kw: 1}""",
        """  - id: M
    routing: [{operation: a, cycle_s: 60}, {operation: b, cycle_s: 10}]""",
    )
    rec = Recorder()
    sim = FlowSim(p, seed=0, options=EXACT, on_change=rec)
    sim.follow(plan(("L", "M", 3), start=300.0))
    for t in range(1, 300):
        sim.advance(float(t))
    assert state(sim, "S2") == "Idle" and state(sim, "CV") == "Idle"
    assert "Starved" not in rec.series("S2", "state")
    assert "Running" not in rec.series("CV", "state")
    for t in range(300, 340):
        sim.advance(float(t))
    assert state(sim, "S1") == "Running"
    assert state(sim, "S2") == "Starved"
    assert state(sim, "CV") == "Running"
    for t in range(340, 700):
        sim.advance(float(t))
    assert sim.completed == {"M": 3}
    assert state(sim, "S2") == "Idle" and state(sim, "CV") == "Idle"


def test_starving_and_idle_when_done() -> None:
    # Slow first station, fast second: the second one starves; when all is done both are Idle.
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10, idle_power_kw: 1}
      - {id: S2, operations: [b], power_kw: 10, idle_power_kw: 1}""",
        """  - id: M
    routing: [{operation: a, cycle_s: 60}, {operation: b, cycle_s: 10}]""",
    )
    sim, rec = run_recorded(p, plan(("L", "M", 3)), 400, EXACT)
    assert "Starved" in rec.series("S2", "state")
    assert sim.completed == {"M": 3}
    assert rec.series("S1", "state")[-1] == "Idle"
    assert rec.series("S2", "state")[-1] == "Idle"


def test_faults_happen_and_clear_after_repair() -> None:
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10, idle_power_kw: 1, mtbf_s: 300, mttr_s: 60}""",
        """  - id: M
    routing: [{operation: a, cycle_s: 30}]""",
    )
    opts = SimOptions(cycle_cv=0.0, faults=True)
    sim, rec = run_recorded(p, plan(("L", "M", 100)), 6000, opts, seed=7)
    states = rec.series("S1", "state")
    alarms = rec.series("S1", "alarm")
    assert sim.faults >= 3
    assert states.count("Fault") >= 3
    # Every fault is followed by a recovery; alarms are set and cleared.
    for i, s in enumerate(states[:-1]):
        if s == "Fault":
            assert states[i + 1] != "Fault"
    assert any(a for a in alarms) and alarms[-1] == ""
    assert sim.completed == {"M": 100}  # work interrupted by faults resumes
    # The faults cost time: 100 cars x 30 s = 3000 s of work, plus repairs.
    assert sim.last_completion_s > 3000
    res = simulate_plan(p, plan(("L", "M", 100)), 6000, seed=7, options=opts)
    assert res.lines["L"]["fault_s"] > 0
    assert res.faults == sim.faults


def test_changeover_between_models() -> None:
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10, idle_power_kw: 1}""",
        """  - id: A
    routing: [{operation: a, cycle_s: 60}]
  - id: B
    routing: [{operation: a, cycle_s: 60}]""",
        "changeovers: [{from: A, to: B, seconds: 300}]",
    )
    same = simulate_plan(p, plan(("L", "A", 2), ("L", "A", 2)), 3600, options=EXACT)
    mixed = simulate_plan(p, plan(("L", "A", 2), ("L", "B", 2)), 3600, options=EXACT)
    assert same.makespan_s == pytest.approx(240)
    assert mixed.makespan_s == pytest.approx(240 + 300)
    _sim, rec = run_recorded(p, plan(("L", "A", 2), ("L", "B", 2)), 700, EXACT)
    assert "Changeover" in rec.series("S1", "state")
    assert rec.series("S1", "model") == ["A", "B"]  # the initial "" is coalesced in the first flush


def test_off_lines_draw_no_power(mini_plant: Plant) -> None:
    # A plan with work for L1 only: L2 and the cell block are switched off.
    res = simulate_plan(mini_plant, plan(("L1", "A", 5)), 3600, options=EXACT)
    assert res.lines["L2"]["energy_kwh"] == 0.0
    assert res.lines["L2"]["off_s"] == pytest.approx(3600)
    assert res.lines["C"]["energy_kwh"] == 0.0
    assert res.lines["L1"]["energy_kwh"] > 0
    sim = FlowSim(mini_plant, options=EXACT, on_change=lambda b: None)
    sim.follow(plan(("L1", "A", 5)))
    sim.advance(100)
    snap = sim.snapshot()
    for eq in ("L2-WELD", "L2-PAINT", "C-1", "C-2"):
        assert snap[eq]["state"] == "Off"
        assert snap[eq]["power_kw"] == 0.0
    assert snap["L1-WELD"]["state"] == "Running"


def test_plan_switch_changes_model_and_turns_line_on(mini_plant: Plant) -> None:
    sim = FlowSim(mini_plant, options=EXACT, on_change=lambda b: None)
    sim.follow(plan(("L2", "B", 0)))
    sim.advance(50)
    assert sim.snapshot()["L2-WELD"]["state"] == "Off"
    sim.load_plan([PlanAssignment(resource="L2", model="B", quantity=3, start_s=0, end_s=0)], lines=["L2"])
    sim.advance(100)
    snap = sim.snapshot()
    assert snap["L2-WELD"]["state"] == "Running"
    assert snap["L2-WELD"]["model"] == "B"


def test_cells_with_agv(mini_plant: Plant) -> None:
    # Each B car is built completely in one cell: 70 + 90 + 50 = 210 s, plus AGV trips in and out.
    sim, rec = run_recorded(mini_plant, plan(("C", "B", 4)), 1500, EXACT)
    assert sim.completed == {"B": 4}
    assert "Running" in rec.series("C-AGV", "state")
    assert rec.series("C-1", "part_count")[-1] + rec.series("C-2", "part_count")[-1] == 4
    assert sim.last_completion_s >= 2 * (30 + 210 + 30)
    # A lot on one cell only goes there.
    sim2, _ = run_recorded(mini_plant, plan(("C-2", "B", 2)), 1500, EXACT)
    assert sim2.units["C-2"].part_count == 2 and sim2.units["C-1"].part_count == 0


def test_same_seed_same_result(mini_plant: Plant) -> None:
    pl = default_plan(mini_plant)
    opts = SimOptions(default_mtbf_s=1800, default_mttr_s=120)
    a = simulate_plan(mini_plant, pl, 4 * 3600, seed=5, options=opts)
    b = simulate_plan(mini_plant, pl, 4 * 3600, seed=5, options=opts)
    c = simulate_plan(mini_plant, pl, 4 * 3600, seed=6, options=opts)
    assert a == b
    assert a.to_dict() != c.to_dict()
    _, ra = run_recorded(mini_plant, pl, 600, opts, seed=5)
    _, rb = run_recorded(mini_plant, pl, 600, opts, seed=5)
    assert [[x[:3] for x in bt] for bt in ra.batches] == [[x[:3] for x in bt] for bt in rb.batches]


def test_default_plan_covers_demand(mini_plant: Plant) -> None:
    pl = default_plan(mini_plant, lot=10)
    per_model: dict[str, int] = defaultdict(int)
    for a in pl.assignments:
        per_model[a.model] += a.quantity
    assert dict(per_model) == mini_plant.demand
    assert {a.resource for a in pl.assignments if a.model == "A"} == {"L1"}
    assert {a.resource for a in pl.assignments if a.model == "B"} == {"L2", "C"}


def test_bad_plans_are_refused(mini_plant: Plant) -> None:
    sim = FlowSim(mini_plant)
    with pytest.raises(ValidationError, match="unknown resource"):
        sim.follow(plan(("NOPE", "A", 1)))
    with pytest.raises(ValidationError, match="unknown model"):
        sim.follow(plan(("L1", "Z", 1)))
    with pytest.raises(ValidationError, match="horizon"):
        simulate_plan(mini_plant, plan(("L1", "A", 1)), 0)


def test_repeat_sequence_keeps_line_busy(mini_plant: Plant) -> None:
    sim = FlowSim(mini_plant, options=SimOptions(cycle_cv=0, faults=False, repeat_sequence=True))
    sim.follow(plan(("L1", "A", 2)))
    sim.env.run(until=3000)
    assert sim.completed["A"] > 10


def test_specialised_cells_route_cars_through_stages() -> None:
    p = parse_plant(
        """
id: cells
lines:
  - id: C
    kind: cells
    equipment:
      - {id: BODY, type: cell, operations: [body], power_kw: 10}
      - {id: PAINT, type: cell, operations: [paint], power_kw: 10}
      - {id: AGV, type: agv}
      - {id: STAGE, type: buffer, capacity: 2}
models:
  - id: M
    routing: [{operation: body, cycle_s: 100}, {operation: paint, cycle_s: 50}]
"""
    )
    # One car: AGV in (30) + body (100) + AGV to paint (30) + paint (50) + AGV out (30) = 240 s.
    one = simulate_plan(p, plan(("C", "M", 1)), 3600, options=EXACT)
    assert one.completed == {"M": 1}
    assert one.makespan_s == pytest.approx(240)
    sim, rec = run_recorded(p, plan(("C", "M", 6)), 3600, EXACT)
    assert sim.completed == {"M": 6}
    assert sim.units["BODY"].part_count == 6 and sim.units["PAINT"].part_count == 6
    assert max(rec.series("STAGE", "level")) <= 2
    assert "Running" in rec.series("AGV", "state")


def test_parallel_stations_share_a_step() -> None:
    p = plant_yaml(
        """      - {id: S1, operations: [a], power_kw: 10}
      - {id: S2, operations: [a], power_kw: 10}""",
        """  - id: M
    routing: [{operation: a, cycle_s: 60}]""",
    )
    # Each of the two stations does half of the 60 s step: first car out at 60 s, then one every 30 s.
    res = simulate_plan(p, plan(("L", "M", 4)), 3600, options=EXACT)
    assert res.makespan_s == pytest.approx(60 + 3 * 30)

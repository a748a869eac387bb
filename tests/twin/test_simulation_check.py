"""The plan-check path of the flow model on the demo plant: the fast path (nobody listening) gives the same
outcome as the publishing one, and the simulation agrees with the scheduler's resource model."""

from __future__ import annotations

from typing import Any

import pytest

from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.resources import plant_modes
from twin.sim import FlowSim, SimOptions, check_plan, default_plan

EXACT = SimOptions(cycle_cv=0.0, faults=False)


def one_lot(resource: str, model: str, qty: int) -> Plan:
    """A plan of one lot released at t=0."""
    return Plan(
        demand={model: qty},
        assignments=[PlanAssignment(resource=resource, model=model, quantity=qty, start_s=0.0, end_s=0.0)],
    )


def outcome(sim: FlowSim) -> dict[str, Any]:
    """What a check reads from a run."""
    for u in sim.units.values():
        u.integrate()
    return {
        "completed": dict(sim.completed),
        "faults": sim.faults,
        "last": sim.last_completion_s,
        "parts": {k: u.part_count for k, u in sim.units.items()},
        "energy": {k: round(u.energy_kwh, 6) for k, u in sim.units.items()},
        "time_in": {k: {s: round(t, 6) for s, t in u.time_in.items()} for k, u in sim.units.items()},
    }


@pytest.mark.timeout(60)
def test_listening_does_not_change_the_run(demo: Plant) -> None:
    """The check skips publishing when nobody listens; the run itself (RNG draws, states, energy) is the same
    as with a listener (the live simulator's path), faults and cycle variance on."""
    pl = default_plan(demo)
    batches: list[Any] = []
    quiet = FlowSim(demo, seed=3)
    loud = FlowSim(demo, seed=3, on_change=batches.append)
    for sim in (quiet, loud):
        sim.follow(pl)
        sim.env.run(until=6 * 3600)
    loud.flush()
    assert batches, "the listener got the changes"
    assert outcome(quiet) == outcome(loud)
    assert sum(quiet.completed.values()) > 100


@pytest.mark.timeout(60)
def test_check_is_deterministic_per_seed_on_the_demo_plant(demo: Plant) -> None:
    """Same seeds, same result; another seed draws other faults and cycle times."""
    pl = default_plan(demo)
    a = check_plan(demo, pl, 8 * 3600, seeds=[0, 1])
    b = check_plan(demo, pl, 8 * 3600, seeds=[0, 1])
    c = check_plan(demo, pl, 8 * 3600, seeds=[5, 6])
    assert a.to_dict() == b.to_dict()
    assert a.aggregate["energy_kwh_mean"] != c.aggregate["energy_kwh_mean"]


@pytest.mark.parametrize(
    ("resource", "model"), [("L1", "EV-SUV"), ("L2", "HATCH"), ("C", "EV-SUV"), ("C", "HATCH")]
)
def test_simulation_matches_the_schedulers_resource_model(demo: Plant, resource: str, model: str) -> None:
    """Without variance, faults and AGV travel, a lot takes exactly the scheduler's duration: fill time +
    (q - 1) x bottleneck stage cycle. In the cell block a car visits one cell per stage (body, paint,
    assembly, inspection), and parallel cells of a stage divide its cycle, as the scheduler's block model
    assumes."""
    q = 115
    sim = FlowSim(demo, options=SimOptions(cycle_cv=0.0, faults=False, agv_transfer_s=0.0))
    sim.follow(one_lot(resource, model, q))
    sim.env.run(until=86400)
    assert sim.completed == {model: q}
    mode = plant_modes(demo)[model][resource]
    assert sim.last_completion_s == pytest.approx(mode.setup_s + q * mode.per_car_s, abs=1.0)
    if resource == "C":
        cells = {k: u.part_count for k, u in sim.units.items() if k.startswith("C-") and u.eq.type == "cell"}
        for stage in ("C-BODY", "C-PAINT", "C-ASSY", "C-EOL"):
            assert sum(n for k, n in cells.items() if k.startswith(stage)) == q  # each car once per stage
            assert all(n > 0 for k, n in cells.items() if k.startswith(stage))  # the stage's cells share


def test_agv_travel_lengthens_cell_block_lots(demo: Plant) -> None:
    """With AGV trips (default 30 s) a cell also waits for the car to arrive: the block is slower than the
    scheduler's model by about one trip per car at the bottleneck stage (its block model has no AGVs)."""
    q = 115
    sim = FlowSim(demo, options=EXACT)
    sim.follow(one_lot("C", "EV-SUV", q))
    sim.env.run(until=86400)
    mode = plant_modes(demo)["EV-SUV"]["C"]
    planned = mode.setup_s + q * mode.per_car_s
    assert sim.completed == {"EV-SUV": q}
    assert sim.last_completion_s > planned + (q - 1) * EXACT.agv_transfer_s / 3 - 1.0

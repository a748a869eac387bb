"""Plan KPIs, diffs and the per-line split of a plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.plans import line_sequences, plan_diff, plan_kpis
from twin.schedule.plant.trigger import line_plans

pytestmark = pytest.mark.timeout(60)

MONDAY_6 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()


def _plan(
    assignments: list[tuple[str, str, str, int, int, int]], demand: dict[str, int], **meta: object
) -> Plan:
    return Plan(
        demand=demand,
        assignments=[
            PlanAssignment(resource=r, model=m, quantity=q, start_s=s, end_s=e, lot=lot)
            for lot, r, m, q, s, e in assignments
        ],
        meta={"origin": MONDAY_6, "horizon_s": 86400, **meta},
    )


def test_kpis_of_a_small_plan(mini_plant: Plant) -> None:
    # 10 cars on L1 = 1005 s; B-001: 2 cars on C-1 = 420 s.
    plan = _plan([("A-001", "L1", "A", 10, 0, 1005), ("B-001", "C-1", "B", 2, 100, 520)], {"A": 10, "B": 5})
    k = plan_kpis(mini_plant, plan)
    assert k["cars"] == 12 and k["unmet"] == 3
    assert k["fulfilment"] == round(12 / 15, 4)
    assert k["fulfilment_by_model"] == {"A": 1.0, "B": 0.4}
    assert k["makespan_s"] == 1005
    assert sorted(k["idle_resources"]) == ["C-2", "L2"]
    # Powered: L1 and C-1 for the 8 h day shift (idle draw), plus the lots' processing energy.
    idle = (18 + 6) * 8
    extra = 10 * (35 * 60 + 70 * 90 + 17 * 45) / 3600 + 2 * 54 * (70 + 90 + 50) / 3600
    assert k["energy_kwh"] == pytest.approx(idle + extra, abs=0.01)
    assert k["kwh_per_vehicle"] == pytest.approx((idle + extra) / 12, abs=0.01)
    assert k["peak_kw"] == 140 + 60  # both building at t=100
    assert k["dedicated_idle_h"] == {"L1": round((8 * 3600 - 1005) / 3600, 3)}
    assert k["resources"]["L1"]["utilisation"] == round(1005 / (8 * 3600), 4)


def test_powered_windows_in_meta_count_even_without_work(mini_plant: Plant) -> None:
    plan = _plan([], {"A": 0}, powered=[["L2", 0, 28800]])
    k = plan_kpis(mini_plant, plan)
    assert k["energy_kwh"] == pytest.approx(18 * 8)
    assert k["resources"]["L2"]["idle_h"] == 8.0
    assert k["peak_kw"] == 18


def test_diff_says_what_moved_where(mini_plant: Plant) -> None:
    a = _plan(
        [
            ("A-1", "L1", "A", 10, 0, 1005),
            ("B-1", "L2", "B", 10, 0, 1020),
            ("B-2", "L2", "B", 10, 1020, 2040),
        ],
        {"A": 10, "B": 20},
    )
    b = _plan(
        [("A-1", "L1", "A", 5, 0, 555), ("B-1", "C-1", "B", 10, 0, 2100), ("B-3", "L2", "B", 10, 500, 1520)],
        {"A": 5, "B": 20},
    )
    a.version, b.version = 1, 2
    a.kpis, b.kpis = plan_kpis(mini_plant, a), plan_kpis(mini_plant, b)
    d = plan_diff(a, b)
    assert d["from"] == 1 and d["to"] == 2
    assert [x["lot"] for x in d["reassigned"]] == ["B-1"] and d["reassigned"][0]["to"] == "C-1"
    assert d["resized"] == [{"lot": "A-1", "model": "A", "from": 10, "to": 5}]
    assert [x["lot"] for x in d["removed"]] == ["B-2"] and [x["lot"] for x in d["added"]] == ["B-3"]
    assert d["models_per_resource"] == {"C-1": {"before": [], "after": ["B"]}}
    assert d["demand"] == {"A": {"from": 10, "to": 5}}
    assert d["kpis"]["cars"] == {"from": 30, "to": 25, "delta": -5}


def test_line_split_and_relative_dispatch(mini_plant: Plant) -> None:
    plan = _plan(
        [
            ("A-1", "L1", "A", 10, 0, 1000),
            ("A-2", "L1", "A", 10, 1000, 2000),
            ("B-1", "C-2", "B", 4, 3000, 3840),
        ],
        {"A": 20, "B": 4},
    )
    seqs = line_sequences(plan, mini_plant)
    assert set(seqs) == {"L1", "L2", "C"} and seqs["L2"] == []
    assert [x["lot"] for x in seqs["L1"]] == ["A-1", "A-2"] and seqs["C"][0]["resource"] == "C-2"
    per_line = line_plans(mini_plant, plan, now=MONDAY_6 + 1500)
    l1 = per_line["L1"].assignments
    assert [(a.lot, a.quantity, a.start_s, a.end_s) for a in l1] == [("A-2", 5, 0.0, 500.0)]
    assert [(a.lot, a.start_s) for a in per_line["C"].assignments] == [("B-1", 1500.0)]
    assert per_line["L2"].assignments == []  # no work: the line switches off

"""The plan the simulated plant runs before the scheduler sends one: demand split over capable lines."""

from __future__ import annotations

from collections import deque

from twin.model import Plan, PlanAssignment, Plant

__all__ = ["default_plan", "line_capabilities"]


def line_capabilities(plant: Plant) -> dict[str, list[str]]:
    """Models each line/block can build completely: model -> line ids in config order."""
    out: dict[str, list[str]] = {}
    line_eq = {line.id: {e.id for e in line.equipment} for line in plant.lines}
    for m in plant.models:
        for line in plant.lines:
            ok = all(
                (step.lines is None or line.id in step.lines)
                and any(e.id in line_eq[line.id] for e in plant.eligible(step))
                for step in m.routing
            )
            if ok:
                out.setdefault(m.id, []).append(line.id)
    return out


def default_plan(plant: Plant, lot: int = 10, horizon_s: float | None = None) -> Plan:
    """A simple plan from demand: each model's demand split evenly over the lines that can build it, in
    lots of ``lot`` cars, lots of different models interleaved round-robin per line. Starts are 0 (release
    as soon as possible); what the simulated plant runs before the scheduler sends a plan."""
    caps = line_capabilities(plant)
    per_line: dict[str, list[tuple[str, int]]] = {}
    for model, qty in plant.demand.items():
        lines = caps.get(model, [])
        if not lines or qty <= 0:
            continue
        share, rest = divmod(qty, len(lines))
        for i, ln in enumerate(lines):
            n = share + (1 if i < rest else 0)
            lots = per_line.setdefault(ln, [])
            while n > 0:
                lots.append((model, min(lot, n)))
                n -= lot
    assignments: list[PlanAssignment] = []
    for ln, lots in per_line.items():
        by_model: dict[str, deque[tuple[str, int]]] = {}
        for m, q in lots:
            by_model.setdefault(m, deque()).append((m, q))
        order: list[tuple[str, int]] = []
        while any(by_model.values()):
            for dq in by_model.values():
                if dq:
                    order.append(dq.popleft())
        for i, (m, q) in enumerate(order):
            assignments.append(
                PlanAssignment(resource=ln, model=m, quantity=q, start_s=0.0, end_s=0.0, lot=f"{ln}-{i}")
            )
    return Plan(
        version=0, reason="default plan from demand", demand=dict(plant.demand), assignments=assignments
    )

"""What changed between two plans (used when the scheduler package does not provide its own diff)."""

from __future__ import annotations

from typing import Any

from twin.model import Plan, PlanAssignment


def _key(a: PlanAssignment) -> tuple[str, str, str]:
    return a.model, a.lot, a.operation


def diff_plans(old: Plan, new: Plan) -> dict[str, Any]:
    """Assignments added, removed, moved (other resource or time) and resized; demand and KPI changes.

    Assignments are matched by ``(model, lot, operation)``; several with one key pair up in start order.
    """

    def group(plan: Plan) -> dict[tuple[str, str, str], list[PlanAssignment]]:
        out: dict[tuple[str, str, str], list[PlanAssignment]] = {}
        for a in sorted(plan.assignments, key=lambda x: (x.start_s, x.resource)):
            out.setdefault(_key(a), []).append(a)
        return out

    g_old, g_new = group(old), group(new)
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    unchanged = 0
    for key in sorted(set(g_old) | set(g_new)):
        olds, news = g_old.get(key, []), g_new.get(key, [])
        for a, b in zip(olds, news, strict=False):
            if (a.resource, a.start_s, a.end_s, a.quantity) == (b.resource, b.start_s, b.end_s, b.quantity):
                unchanged += 1
                continue
            moved.append(
                {
                    "model": key[0],
                    "lot": key[1],
                    "operation": key[2],
                    "from": a.model_dump(),
                    "to": b.model_dump(),
                    "resource_changed": a.resource != b.resource,
                    "shift_s": b.start_s - a.start_s,
                }
            )
        removed.extend(a.model_dump() for a in olds[len(news) :])
        added.extend(b.model_dump() for b in news[len(olds) :])
    models = sorted(set(old.demand) | set(new.demand))
    kpis = sorted(set(old.kpis) | set(new.kpis))
    return {
        "from_version": old.version,
        "to_version": new.version,
        "added": added,
        "removed": removed,
        "moved": moved,
        "unchanged": unchanged,
        "demand": {
            m: {"from": old.demand.get(m), "to": new.demand.get(m)}
            for m in models
            if old.demand.get(m) != new.demand.get(m)
        },
        "kpis": {
            k: {"from": old.kpis.get(k), "to": new.kpis.get(k)}
            for k in kpis
            if old.kpis.get(k) != new.kpis.get(k)
        },
    }

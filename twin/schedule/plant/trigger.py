"""The re-planner service: demand events in, checked and versioned plans out, dispatched to the lines.

:class:`Replanner` reads the store's demand stream; when a model's demand differs from what the current
plan was made for by more than ``threshold`` (relative), or on :meth:`Replanner.replan_once` (``twin
replan``), it re-plans (:func:`twin.schedule.plant.replan.replan`), checks the plan in simulation
(:mod:`twin.schedule.plant.check`), stores it with the store's compare-and-swap (``put_plan(...,
expect_current=base, check=True)``: a plan computed from version ``n`` only becomes ``n + 1``; if another
re-planner won the race, this one re-plans from the new current plan), audits it and dispatches it through
the write-back callable it was handed (``(line_id, line_plan) -> result``, sync or async), unless the
write-back kill switch is off. Concurrent triggers therefore never interleave plans.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twin.errors import StoreAccessError, StoreError, TwinError, ValidationError
from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.check import check_plan_in_sim
from twin.schedule.plant.plans import line_sequences
from twin.schedule.plant.problem import plan_origin
from twin.schedule.plant.replan import ReplanConfig, ReplanResult, replan
from twin.schedule.plant.resources import plant_resources

if TYPE_CHECKING:  # the service is handed a store; the scheduler does not import one
    from twin.store import TwinStore

__all__ = [
    "Outcome",
    "Replanner",
    "TriggerConfig",
    "WriteBack",
    "demand_changed",
    "dispatch",
    "dispatch_ok",
    "line_plans",
]

log = logging.getLogger(__name__)

#: A write-back channel: called per line with the line's plan (times relative to now); may be async.
WriteBack = Callable[[str, Plan], Any]


@dataclass
class TriggerConfig:
    """Knobs of the service."""

    threshold: float = 0.1
    replan: ReplanConfig = field(default_factory=ReplanConfig)
    check: bool = True
    check_seeds: tuple[int, ...] = (0, 1, 2)
    max_attempts: int = 8
    actor: str = "replanner"


@dataclass
class Outcome:
    """What one trigger produced."""

    version: int | None  # the stored plan version (None: nothing stored)
    base_version: int | None
    stored: bool
    kept_old: bool
    reason: str
    replan_s: float
    attempts: int
    check: dict[str, Any] | None = None
    dispatch: dict[str, Any] | None = None
    result: ReplanResult | None = None
    plan: Plan | None = None


def demand_changed(plan_demand: Mapping[str, int], demand: Mapping[str, int], threshold: float) -> list[str]:
    """Models whose demand moved by more than ``threshold`` (relative to the plan's) since the plan."""
    out = []
    for m in sorted(set(plan_demand) | set(demand)):
        old, new = plan_demand.get(m, 0), demand.get(m, 0)
        if old == new:
            continue
        if old == 0 or abs(new - old) / old > threshold:
            out.append(m)
    return out


class Replanner:
    """Re-plans on demand changes; safe to run in several threads or processes against one store."""

    def __init__(
        self,
        store: TwinStore,
        *,
        config: TriggerConfig | None = None,
        writeback: WriteBack | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config or TriggerConfig()
        self.writeback = writeback
        self.clock = clock
        #: The last demand event the service has acted on (re-planned, or found below the threshold); set to
        #: where it starts following once it serves.
        self.handled_event_id: str | None = None

    # ------------------------------------------------------------------------------------------ triggers
    def pending(self) -> list[str]:
        """Models whose stored demand differs from the current plan's beyond the threshold."""
        v = self.store.current_plan_version()
        demand = self.store.demand()
        if v is None:
            return sorted(m for m, q in demand.items() if q > 0)
        return demand_changed(self.store.get_plan(v).demand, demand, self.config.threshold)

    def replan_once(
        self, reason: str = "twin replan", *, force: bool = True, propose: bool = False
    ) -> Outcome:
        """Re-plan from the current plan and store the result as the next version (retrying on a race).

        ``propose=True`` stores it as a proposal (``meta.proposed``): the next version, not made current and
        not dispatched, until someone accepts it (the console's Re-plan; the API's ``{"propose": true}``).
        """
        plant = self.store.plant()
        t0 = time.perf_counter()
        for attempt in range(1, self.config.max_attempts + 1):
            base = self.store.current_plan_version()
            current = self.store.get_plan(base) if base is not None else None
            demand = self.store.demand()
            if not force and current is not None and not demand_changed(current.demand, demand, 0.0):
                return Outcome(None, base, False, False, "demand unchanged", 0.0, attempt)
            now = self.clock()
            result = replan(
                plant,
                demand,
                current=current,
                now=now,
                status=self.store.status(),
                config=self.config.replan,
                reason=reason,
                base_version=base,
            )
            plan = result.plan
            checked: dict[str, Any] | None = None
            if self.config.check:
                chk = check_plan_in_sim(plant, plan, seeds=self.config.check_seeds)
                checked = chk.summary()
                plan.meta["check"] = checked
                if not chk.meets_demand:
                    log.warning("plan misses demand in simulation: %s", chk.missing)
                if chk.cap_broken_seeds:
                    log.warning(
                        "plan breaks the %s kW cap in simulation (seeds %s)", chk.cap_kw, chk.cap_broken_seeds
                    )
            replan_s = round(time.perf_counter() - t0, 4)
            plan.meta["replan_s"] = replan_s
            if propose:
                plan.meta["proposed"] = True
            if current is not None and _same(current, plan):
                return Outcome(
                    base, base, False, True, "plan unchanged", replan_s, attempt, checked, None, result
                )
            try:
                version = self.store.put_plan(plan, expect_current=base, check=True, make_current=not propose)
            except ValidationError:
                log.info("plan v%s changed while re-planning; re-planning again", base)
                continue
            stored = self.store.get_plan(version)
            self.store.append_audit(
                self.config.actor,
                "plan.propose" if propose else "plan.store",
                {
                    "version": version,
                    "base": base,
                    "reason": reason,
                    "kept_old": result.kept_old,
                    "check_ok": None if checked is None else checked["ok"],
                },
            )
            out = Outcome(
                version, base, True, result.kept_old, reason, replan_s, attempt, checked, None, result, stored
            )
            if self.writeback is not None and not propose:
                out.dispatch = self.dispatch(plant, stored)
            return out
        raise TwinError(
            f"plan kept changing while re-planning ({self.config.max_attempts} attempts): another re-planner "
            "is very busy; try again"
        )

    def dispatch(self, plant: Plant, plan: Plan) -> dict[str, Any]:
        """Send ``plan`` to every line through the write-back callable (audited; honours the kill switch)."""
        if self.writeback is None:
            return {}
        if not self.store.writeback_enabled():
            self.store.append_audit(self.config.actor, "plan.dispatch", {"version": plan.version}, "blocked")
            return {"blocked": "write-back is switched off"}
        results = dispatch(plant, plan, self.writeback, now=self.clock())
        ok = all(dispatch_ok(r) for r in results.values())
        self.store.append_audit(
            self.config.actor,
            "plan.dispatch",
            {"version": plan.version, "lines": results},
            "ok" if ok else "error",
        )
        return results

    def run(self, stop: threading.Event | None = None, *, block_ms: int = 500) -> None:
        """Serve until ``stop`` is set: re-plan when demand moves beyond the threshold."""
        stop = stop or threading.Event()
        after = self.store.last_demand_event_id()
        owed = self.pending() and "demand differs from the current plan at start-up"
        while not stop.is_set():
            if owed and not self._trigger(owed):  # a re-plan Redis interrupted is owed until it is stored
                stop.wait(1.0)
                continue
            owed = ""
            self.handled_event_id = after
            try:
                batch = self.store.demand_events(after=after, count=1000, block_ms=block_ms)
                if not batch:
                    continue
                after = batch[-1][0]
                models = self.pending()
            except StoreError as exc:  # Redis away: keep serving, pick up where we were once it is back
                log.error("re-planner cannot read demand: %s", exc)
                stop.wait(1.0)
                continue
            if models:
                owed = f"demand changed: {', '.join(models)}"

    def _trigger(self, reason: str) -> bool:
        """Re-plan once; False if Redis failed meanwhile (the caller tries again), True otherwise."""
        try:
            out = self.replan_once(reason)
            log.info(
                "replanned: v%s (base v%s, kept_old=%s, %.2f s)",
                out.version,
                out.base_version,
                out.kept_old,
                out.replan_s,
            )
        except StoreAccessError as exc:  # retrying cannot fix a permission or TLS problem: say so, once
            log.error("re-plan failed: %s", exc)
        except StoreError as exc:  # Redis away (a failover): the re-plan is owed until it is stored
            log.error("re-plan interrupted, retrying when Redis is back: %s", exc)
            return False
        except TwinError as exc:
            log.error("re-plan failed: %s", exc)
        return True


def _same(a: Plan, b: Plan) -> bool:
    key = [(x.resource, x.model, x.quantity, x.start_s, x.lot) for x in a.assignments]
    return key == [(x.resource, x.model, x.quantity, x.start_s, x.lot) for x in b.assignments] and dict(
        a.demand
    ) == dict(b.demand)


# ------------------------------------------------------------------------------------------------ dispatch
def line_plans(plant: Plant, plan: Plan, now: float) -> dict[str, Plan]:
    """Per line, the part of ``plan`` still to build at epoch ``now``, with times relative to ``now``.

    Lots already finished are left out; a lot in progress is sent with the cars still to start
    (proportional to its remaining time); lines without work get an empty plan (switch off).
    """
    origin = plan_origin(plan) or now
    now_s = now - origin
    lines = {line for _r, _k, line, _s in plant_resources(plant)}
    out: dict[str, Plan] = {}
    seqs = line_sequences(plan, plant)
    for line in sorted(lines | set(seqs)):
        items: list[PlanAssignment] = []
        for it in seqs.get(line, []):
            start, end, qty = float(it["start_s"]), float(it["end_s"]), int(it["quantity"])
            if end <= now_s:
                continue
            if start < now_s < end and end > start:
                qty = math.ceil(qty * (end - now_s) / (end - start))
            items.append(
                PlanAssignment(
                    resource=it["resource"],
                    model=it["model"],
                    quantity=qty,
                    start_s=round(max(0.0, start - now_s), 3),
                    end_s=round(max(0.0, end - now_s), 3),
                    lot=it["lot"],
                    operation="build",
                )
            )
        out[line] = Plan(
            version=plan.version,
            created_at=plan.created_at,
            reason=plan.reason,
            demand=plan.demand,
            assignments=items,
            meta={"line": line, "relative_to": now, "origin": origin},
        )
    return out


def dispatch(plant: Plant, plan: Plan, writeback: WriteBack, *, now: float) -> dict[str, Any]:
    """Call ``writeback(line_id, line_plan)`` for every line; returns the result (or error) per line."""
    results: dict[str, Any] = {}
    for line, lp in line_plans(plant, plan, now).items():
        try:
            res = writeback(line, lp)
            if inspect.isawaitable(res):
                res = _run_sync(res)
            results[line] = _plain(res)
        except Exception as exc:  # one line failing must not stop the others; it is reported
            results[line] = f"error: {exc}"
    return results


def _plain(res: Any) -> Any:
    """A write-back result in JSON-able form (``as_dict()`` if it has one)."""
    if isinstance(res, str | int | float | bool | dict | type(None)):
        return res
    as_dict = getattr(res, "as_dict", None)
    return as_dict() if callable(as_dict) else str(res)


def dispatch_ok(res: Any) -> bool:
    """True if a line accepted its plan (a result of :func:`dispatch`)."""
    if isinstance(res, dict):
        return bool(res.get("ok", res.get("status") == "accepted"))
    return not str(res).startswith(("error", "rejected"))


def _run_sync(awaitable: Any) -> Any:
    """Run an awaitable from sync code (a private loop; fails clearly inside a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def _wrap() -> Any:
            return await awaitable

        return asyncio.run(_wrap())
    raise TwinError("an async write-back needs `await adispatch(...)` inside an event loop")


async def adispatch(plant: Plant, plan: Plan, writeback: WriteBack, *, now: float) -> dict[str, Any]:
    """:func:`dispatch` for async callers."""
    results: dict[str, Any] = {}
    for line, lp in line_plans(plant, plan, now).items():
        try:
            res = writeback(line, lp)
            if inspect.isawaitable(res):
                res = await res
            results[line] = _plain(res)
        except Exception as exc:
            results[line] = f"error: {exc}"
    return results

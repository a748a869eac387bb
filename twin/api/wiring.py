"""Wire the plant scheduler's re-planner, dispatcher and plan diff into :func:`twin.api.create_app`.

``twin serve`` and ``twin demo`` both use this; the write-back callable (adapters' ``PlanWriter``) is passed
in by the CLI, since ``twin/`` may not import ``adapters/``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twin.api.deps import DiffFn, DispatchFn, ProposeFn, ReplanFn
from twin.model import Plan
from twin.schedule.plant.energychoice import EnergyRequest
from twin.schedule.plant.plans import plan_diff
from twin.schedule.plant.trigger import Replanner, TriggerConfig
from twin.store import TwinStore

__all__ = ["Wiring", "scheduler_wiring"]


@dataclass
class Wiring:
    """The functions handed to :func:`~twin.api.create_app` (None where not available)."""

    replan: ReplanFn | None = None
    propose: ProposeFn | None = None
    dispatch: DispatchFn | None = None
    diff: DiffFn | None = None
    notes: tuple[str, ...] = ()


def scheduler_wiring(
    store: TwinStore, writeback: Callable[[str, Plan], Any] | None = None, actor: str = "api"
) -> Wiring:
    """Re-plan (or propose a plan) with the scheduler's :class:`Replanner`, dispatch through ``writeback``
    (if given)."""
    notes: list[str] = []
    planner = Replanner(store, config=TriggerConfig(actor=actor))

    def _planner(request: EnergyRequest | None) -> Replanner:
        """The service's re-planner, or one with this request's energy settings instead of the defaults."""
        if request is None:
            return planner
        cfg = planner.config
        energy = dataclasses.replace(
            cfg.replan,
            power_cap_kw=request.power_cap_kw,
            no_power_cap=request.no_power_cap,
            objective=request.objective,
        )
        return Replanner(store, config=dataclasses.replace(cfg, replan=energy))

    def replan(request: EnergyRequest | None = None, /) -> Plan:
        out = _planner(request).replan_once("API re-plan request")
        if out.plan is not None:
            return out.plan
        return store.get_plan(out.version or out.base_version)

    def propose(request: EnergyRequest | None = None, /) -> Plan:
        out = _planner(request).replan_once("API re-plan request (proposal)", propose=True)
        if out.plan is not None:
            return out.plan
        return store.get_plan(out.version or out.base_version)

    dispatch: DispatchFn | None = None
    if writeback is not None:
        sender = Replanner(store, config=TriggerConfig(actor=actor), writeback=writeback)

        def _dispatch(version: int) -> dict[str, Any]:
            return sender.dispatch(store.plant(), store.get_plan(version))

        dispatch = _dispatch
    else:
        notes.append("plan dispatch not available: no write-back channel")
    return Wiring(replan=replan, propose=propose, dispatch=dispatch, diff=plan_diff, notes=tuple(notes))

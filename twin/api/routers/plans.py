"""Demand, re-planning and plans: read (viewer), change (scheduler). Every write is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from twin.api.auth import Principal
from twin.api.deps import ApiContext, Page, get_ctx, page_params, paginate, scheduler, viewer
from twin.api.errors import ApiError
from twin.errors import NotFoundError, TwinError, ValidationError
from twin.model import Objective, Plan
from twin.schedule.plant.energy import SLOT_S, energy_kpis, energy_profile
from twin.schedule.plant.energychoice import EnergyRequest
from twin.schedule.plant.plans import plan_diff as diff_plans

__all__ = ["DemandIn", "DemandOut", "DemandSet", "PlanAction", "PlanSummary", "router"]

router = APIRouter(prefix="/api/v1", tags=["plans"])

VersionPath = Path(..., ge=1, le=2**31, description="plan version")


class DemandOut(BaseModel):
    """Demand per model."""

    demand: dict[str, int]


class DemandIn(BaseModel):
    """Set one model's demand."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=100, description="product model id")
    quantity: StrictInt = Field(ge=0, le=10_000_000, description="vehicles wanted (whole number >= 0)")


class DemandSet(BaseModel):
    """The outcome of a demand change."""

    model: str
    quantity: int
    event_id: str
    audit_id: str


class PlanSummary(BaseModel):
    """A stored plan version without its assignments."""

    version: int
    created_at: float
    reason: str
    current: bool
    proposed: bool = Field(default=False, description="stored as a proposal (accepted once it is current)")
    base_version: int | None = Field(default=None, description="the plan it was made from")
    assignments: int
    demand: dict[str, int]
    kpis: dict[str, Any]


class EnergySlot(BaseModel):
    """One 15-minute interval of a plan's metered power."""

    start_s: float = Field(description="seconds from the plan's origin")
    end_s: float
    kwh: float
    kw: float = Field(description="average power over the quarter-hour (what the utility's meter records)")
    period: str | None = Field(description="tariff period (None without a tariff)")
    price_per_kwh: float | None


class PlanEnergy(BaseModel):
    """A plan's energy: KPIs and its profile per 15 minutes over the horizon (for a chart)."""

    version: int
    origin: float | None = Field(description="epoch seconds of the plan's t=0")
    slot_s: int
    currency: str | None
    settings: dict[str, Any] = Field(description="the energy settings the plan was made with")
    kpis: dict[str, Any]
    profile: list[EnergySlot]


class ReplanIn(BaseModel):
    """How to re-plan: as a proposal or not, and this re-plan's energy settings (each optional: the plant
    file's defaults otherwise)."""

    model_config = ConfigDict(extra="forbid")

    propose: StrictBool = Field(
        default=False,
        description="store the plan as a proposal: a new version that becomes current only when accepted",
    )
    power_cap_kw: float | None = Field(
        None, gt=0, le=1e7, allow_inf_nan=False,
        description="peak power the plan keeps under, kW (rated power of the lines building plus idle power "
        "of the other powered ones); default: the plant file's contract demand",
    )  # fmt: skip
    no_power_cap: StrictBool = Field(False, description="plan without a cap, even if the plant has one")
    objective: Objective | None = Field(
        None, description="after unmet demand minimise energy cost under the tariff, kWh or finishing time"
    )

    def energy_asked(self) -> bool:
        """Energy settings given (anything but ``propose``)."""
        return bool(self.model_dump(exclude_defaults=True, exclude={"propose"}))

    def request(self) -> EnergyRequest:
        """The re-planner's form of the energy settings."""
        goal = self.objective.value if self.objective is not None else None
        return EnergyRequest(power_cap_kw=self.power_cap_kw, no_power_cap=self.no_power_cap, objective=goal)


class PlanAction(BaseModel):
    """The outcome of a re-plan, accept or dispatch."""

    version: int
    action: str
    audit_id: str
    result: dict[str, Any] = Field(default_factory=dict)


@router.get("/demand", response_model=DemandOut, tags=["demand"], summary="Current demand")
def get_demand(ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(viewer)) -> DemandOut:
    """Demand per model."""
    return DemandOut(demand=ctx.store.demand())


@router.post("/demand", response_model=DemandSet, tags=["demand"], summary="Set a model's demand")
def set_demand(
    body: DemandIn, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(scheduler)
) -> DemandSet:
    """Set the demand for one model (a demand event for the re-plan trigger; audited)."""
    detail = {"model": body.model, "quantity": body.quantity}
    known = {m.id for m in ctx.store.plant().models}
    if body.model not in known:
        ctx.audit(who, "demand.set", detail, result="rejected: unknown model")
        raise ApiError(
            422, f"unknown model {body.model!r} (known: {', '.join(sorted(known))})", field="model"
        )
    try:
        event = ctx.store.set_demand(body.model, body.quantity, actor=who.name)
    except ValidationError as exc:
        ctx.audit(who, "demand.set", detail, result=f"rejected: {exc}")
        raise ApiError(422, str(exc), field="quantity") from exc
    audit_id = ctx.audit(who, "demand.set", {**detail, "event_id": event})
    return DemandSet(model=body.model, quantity=body.quantity, event_id=event, audit_id=audit_id)


@router.post("/replan", response_model=PlanAction, summary="Re-plan now")
def replan(
    body: ReplanIn | None = None, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(scheduler)
) -> PlanAction:
    """Run the re-planner on the current twin and store the new plan version (audited). With
    ``{"propose": true}`` the version is a proposal: current only once accepted, never dispatched here.
    ``power_cap_kw`` / ``no_power_cap`` / ``objective`` set this re-plan's energy settings (else the plant
    file's defaults); a cap below the plant's minimum powered load is refused (422, naming the smallest
    feasible cap) and nothing is stored."""
    propose = bool(body and body.propose)
    action = "plan.propose" if propose else "plan.replan"
    fn = ctx.propose if propose else ctx.replan
    asked = body.model_dump(exclude_defaults=True, exclude={"propose"}, mode="json") if body else {}
    if fn is None:
        ctx.audit(who, action, asked, result="unavailable: no re-planner wired")
        raise ApiError(
            503, "no re-planner is wired into this API (start it with `twin serve`)", code="not_configured"
        )
    if body is not None and body.power_cap_kw is not None and body.no_power_cap:
        ctx.audit(who, action, asked, result="rejected: cap and no cap")
        raise ApiError(422, "give power_cap_kw or no_power_cap, not both", field="no_power_cap")
    try:
        plan = fn(body.request()) if body is not None and body.energy_asked() else fn()
    except TwinError as exc:
        ctx.audit(who, action, asked, result=f"failed: {exc}")
        raise
    except Exception as exc:  # the re-planner is wired in from outside: report, audit, never a bare 500
        ctx.audit(who, action, asked, result=f"failed: {type(exc).__name__}: {exc}")
        raise ApiError(503, f"re-plan failed: {type(exc).__name__}: {exc}", code="replan_failed") from exc
    version = plan.version or ctx.store.current_plan_version() or 0
    summary = {"reason": plan.reason, "assignments": len(plan.assignments), "kpis": plan.kpis}
    summary["proposed"] = bool(plan.meta.get("proposed")) and version != ctx.store.current_plan_version()
    summary["energy"] = plan.meta.get("energy")
    audit_id = ctx.audit(who, action, {"version": version, **asked})
    return PlanAction(version=version, action=action.split(".")[1], audit_id=audit_id, result=summary)


def _summary(plan: Plan, current: int | None) -> PlanSummary:
    return PlanSummary(
        version=plan.version,
        created_at=plan.created_at,
        reason=plan.reason,
        current=plan.version == current,
        proposed=bool(plan.meta.get("proposed")),
        base_version=base if isinstance(base := plan.meta.get("base_version"), int) else None,
        assignments=len(plan.assignments),
        demand=plan.demand,
        kpis=plan.kpis,
    )


@router.get("/plans", response_model=Page[PlanSummary], summary="Plan versions")
def list_plans(
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
    _who: Principal = Depends(viewer),
) -> Page[PlanSummary]:
    """Stored plan versions, newest first."""
    versions = list(reversed(ctx.store.plan_versions()))
    current = ctx.store.current_plan_version()
    pg = paginate(versions, *page)
    items = [_summary(ctx.store.get_plan(v), current) for v in pg.items]
    return Page[PlanSummary](
        items=items, total=pg.total, limit=pg.limit, offset=pg.offset, next_offset=pg.next_offset
    )


@router.get("/plans/current", response_model=Plan, summary="The current plan")
def current_plan(ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(viewer)) -> Plan:
    """The plan in force."""
    return ctx.store.get_plan()


@router.get("/plans/diff", response_model=dict[str, Any], summary="Diff two plans")
def plan_diff(
    a: int = Query(..., ge=1, le=2**31, description="older version"),
    b: int | None = Query(None, ge=1, le=2**31, description="newer version (default: current)"),
    ctx: ApiContext = Depends(get_ctx),
    _who: Principal = Depends(viewer),
) -> dict[str, Any]:
    """What moved where between plan ``a`` and ``b`` (:func:`twin.schedule.plant.plans.plan_diff`, the diff
    ``twin plan diff`` prints): lots added, removed, moved, reassigned and resized, models per resource,
    demand and KPI changes."""
    old = ctx.store.get_plan(a)
    new = ctx.store.get_plan(b)
    fn = ctx.diff or diff_plans
    return fn(old, new)


@router.get("/plans/{version}", response_model=Plan, summary="One plan version")
def get_plan(
    version: int = VersionPath, ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(viewer)
) -> Plan:
    """A stored plan by version."""
    return ctx.store.get_plan(version)


@router.get("/plans/{version}/energy", response_model=PlanEnergy, summary="A plan's energy profile")
def plan_energy(
    version: int = VersionPath, ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(viewer)
) -> PlanEnergy:
    """A plan's energy KPIs (:func:`twin.schedule.plant.energy.energy_kpis`: kWh, kWh per vehicle, cost under
    the tariff, demand charge, CO2, instantaneous and 15-minute peaks) and its metered power per clock
    quarter-hour over the horizon, with each interval's tariff period: what the console charts."""
    plan = ctx.store.get_plan(version)
    plant = ctx.store.plant()
    profile = energy_profile(plant, plan)
    settings = plan.meta.get("energy")
    origin = plan.meta.get("origin")
    return PlanEnergy(
        version=plan.version,
        origin=float(origin) if isinstance(origin, int | float) else None,
        slot_s=SLOT_S,
        currency=plant.energy.currency if plant.energy is not None else None,
        settings=settings if isinstance(settings, dict) else {},
        kpis=energy_kpis(plant, plan),
        profile=[EnergySlot(**s.as_dict()) for s in profile],
    )


@router.post("/plans/{version}/accept", response_model=PlanAction, summary="Make a plan version current")
def accept_plan(
    version: int = VersionPath, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(scheduler)
) -> PlanAction:
    """Switch the current plan to an already stored version (a proposal, or an earlier plan to roll back;
    audited). A proposal newer than the current plan is refused (409) unless it was made from it."""
    try:
        plan = ctx.store.get_plan(version)
    except NotFoundError:
        ctx.audit(who, "plan.accept", {"version": version}, result="rejected: no such version")
        raise
    current = ctx.store.current_plan_version()
    base = plan.meta.get("base_version")
    if plan.meta.get("proposed") and current is not None and version > current and base != current:
        why = f"v{version} was proposed from v{base}, but the current plan is v{current} now: re-plan"
        ctx.audit(who, "plan.accept", {"version": version}, result=f"rejected: {why}")
        raise ApiError(409, why, code="conflict")
    ctx.store.set_current_plan(version)
    audit_id = ctx.audit(who, "plan.accept", {"version": version})
    return PlanAction(version=version, action="accept", audit_id=audit_id)


@router.post("/plans/{version}/dispatch", response_model=PlanAction, summary="Dispatch a plan to the line")
def dispatch_plan(
    version: int = VersionPath, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(scheduler)
) -> PlanAction:
    """Push a plan version to the PLCs through the write-back channel (refused while write-back is off)."""
    detail = {"version": version}
    ctx.store.get_plan(version)  # 404 if unknown
    if not ctx.store.writeback_enabled():
        ctx.audit(who, "plan.dispatch", detail, result="refused: write-back switched off")
        raise ApiError(
            409, "write-back is switched off (kill switch): an admin must enable it first", code="conflict"
        )
    if ctx.dispatch is None:
        ctx.audit(who, "plan.dispatch", detail, result="unavailable: no write-back wired")
        raise ApiError(503, "no write-back channel is wired into this API", code="not_configured")
    try:
        result = ctx.dispatch(version)
    except TwinError as exc:
        ctx.audit(who, "plan.dispatch", detail, result=f"failed: {exc}")
        raise
    except Exception as exc:  # the write-back channel is wired in (adapters): report and audit
        ctx.audit(who, "plan.dispatch", detail, result=f"failed: {type(exc).__name__}: {exc}")
        raise ApiError(503, f"dispatch failed: {type(exc).__name__}: {exc}", code="dispatch_failed") from exc
    audit_id = ctx.audit(who, "plan.dispatch", {**detail, "result": result})
    return PlanAction(version=version, action="dispatch", audit_id=audit_id, result=result)

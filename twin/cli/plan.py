"""Demand, re-planning and plan commands: ``twin demand set``, ``twin replan``, ``twin plan show|diff|list``,
``twin replanner`` (the service) and ``twin bench replan``."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from twin.cli import app, bench_app
from twin.cli.common import DEFAULT_CONFIG, console, fail, open_store, print_json
from twin.cli.planenergy import check_line, diff_lines, energy_line, parse_objective, parse_power_cap
from twin.errors import TwinError, ValidationError
from twin.model import Plan, Plant
from twin.store import TwinStore

__all__ = [
    "bench_replan",
    "demand_app",
    "demand_set",
    "demand_show",
    "plan_app",
    "plan_diff_cmd",
    "plan_list",
    "plan_show",
    "replan",
    "replanner",
]

demand_app = typer.Typer(help="Demand per model (what triggers a re-plan).", no_args_is_help=True)
plan_app = typer.Typer(help="Versioned production plans.", no_args_is_help=True)
app.add_typer(demand_app, name="demand")
app.add_typer(plan_app, name="plan")

# A negative quantity ("-5") must reach our validation, not be taken for an option.
_ARGS_OK = {"ignore_unknown_options": True}
_JSON = typer.Option(False, "--json", help="Print JSON (for scripts).")


@demand_app.command("set", context_settings=_ARGS_OK)
def demand_set(
    ctx: typer.Context,
    model: str = typer.Argument(..., metavar="MODEL", help="Product model id."),
    qty: str = typer.Argument(
        ..., metavar="QTY", help="Cars wanted over the planning horizon (a whole number >= 0)."
    ),
    actor: str = typer.Option("cli", "--actor", help="Who sets it (audit)."),
) -> None:
    """Set one model's demand; the re-planner service reacts if it moved beyond its threshold."""
    store = open_store(ctx)
    try:
        before = store.demand().get(model)
        store.set_demand(model, qty, actor=actor)
        after = store.demand()[model]
        store.append_audit(actor, "demand.set", {"model": model, "from": before, "to": after})
    except TwinError as exc:
        fail(str(exc))
    console.print(f"demand {model}: {before} -> {after}", highlight=False)


@demand_app.command("show")
def demand_show(ctx: typer.Context, json_out: bool = _JSON) -> None:
    """Current demand per model."""
    store = open_store(ctx)
    d = store.demand()
    if json_out:
        print_json(d)
        return
    for m, q in sorted(d.items()):
        console.print(f"{m}: {q}", highlight=False)


def _writer(store: TwinStore, plant: Plant, timeout: float) -> Any:
    """The OPC UA write-back (adapters are imported only here, at the composition root)."""
    from adapters.opcua.writeback import PlanWriter

    return PlanWriter(plant, store, credentials=None, actor="replanner", timeout=timeout)


def _trigger_config(
    threshold: float, time_limit: float, freeze_min: float, lot_size: int | None, workers: int, seed: int,
    check: bool, power_cap: str | None = None, objective: str | None = None,
) -> Any:  # fmt: skip
    """The service's settings; ``--power-cap`` / ``--objective`` parsed here (a bad one: exit 2)."""
    from twin.schedule.plant.replan import ReplanConfig
    from twin.schedule.plant.trigger import TriggerConfig

    try:
        cap, goal = parse_power_cap(power_cap), parse_objective(objective)
    except ValidationError as exc:
        fail(str(exc), 2)
    return TriggerConfig(
        threshold=threshold,
        replan=ReplanConfig(
            freeze_s=round(freeze_min * 60),
            lot_size=lot_size,
            time_limit_s=time_limit,
            workers=workers,
            seed=seed,
            power_cap_kw=cap if isinstance(cap, float) else None,
            no_power_cap=cap == "off",
            objective=goal.value if goal is not None else None,
        ),
        check=check,
    )


_TIME = typer.Option(3.0, "--time-limit", min=0.01, help="Solver time limit (s).")
_FREEZE = typer.Option(
    15.0, "--freeze-min", min=0.0, help="Frozen window: lots starting within it stay (minutes)."
)
_LOT = typer.Option(
    None, "--lot-size", min=1, help="Cars per lot (default: the current plan's, else automatic)."
)
_WORKERS = typer.Option(2, "--workers", min=1, help="CP-SAT workers.")
_SEED = typer.Option(0, "--seed", help="Solver seed.")
_CHECK = typer.Option(True, "--check/--no-check", help="Check the plan in simulation (3 seeds).")
_DISPATCH = typer.Option(True, "--dispatch/--no-dispatch", help="Write the plan to the lines' PLCs.")
_CAP = typer.Option(
    None, "--power-cap", metavar="KW",
    help="Peak power the plan keeps under (kW, rated power of the lines building plus idle power of the "
    "others), or 'off'. Default: the plant file's contract demand (energy.contract_kw).",
)  # fmt: skip
_OBJECTIVE = typer.Option(
    None, "--objective", metavar="cost|energy|time",
    help="After unmet demand, minimise energy cost under the tariff (cost), kWh (energy) or finishing "
    "time (time). Default: the plant file's energy.objective, else energy.",
)  # fmt: skip


@app.command()
def replan(
    ctx: typer.Context,
    json_out: bool = _JSON,
    time_limit: float = _TIME,
    freeze_min: float = _FREEZE,
    lot_size: int = _LOT,
    workers: int = _WORKERS,
    seed: int = _SEED,
    check: bool = _CHECK,
    dispatch: bool = _DISPATCH,
    power_cap: str = _CAP,
    objective: str = _OBJECTIVE,
) -> None:
    """Re-plan now from the current plan and demand; store, check and dispatch the new version.

    Energy: the plan keeps the plant's power under a cap and, after unmet demand, minimises energy cost
    under the plant's time-of-use tariff, kWh or finishing time (see --power-cap, --objective)."""
    from twin.schedule.plant.trigger import Replanner

    cfg = _trigger_config(0.0, time_limit, freeze_min, lot_size, workers, seed, check, power_cap, objective)
    store = open_store(ctx)
    plant = store.plant()
    writer = _writer(store, plant, timeout=5.0) if dispatch else None
    try:
        out = Replanner(store, config=cfg, writeback=writer).replan_once("twin replan")
    except ValidationError as exc:
        fail(str(exc), 2)
    except TwinError as exc:
        fail(str(exc))
    plan = out.plan or (store.get_plan(out.version) if out.version else None)
    doc: dict[str, Any] = {
        "version": out.version,
        "base_version": out.base_version,
        "stored": out.stored,
        "kept_old": out.kept_old,
        "replan_s": out.replan_s,
        "attempts": out.attempts,
        "status": plan.meta.get("status") if plan else None,
        "gap": plan.meta.get("gap") if plan else None,
        "kpis": _short_kpis(plan) if plan else None,
        "energy": plan.meta.get("energy") if plan else None,
        "check": out.check,
        "dispatch": out.dispatch,
    }
    if json_out:
        print_json(doc)
        return
    if not out.stored:
        what = f"plan v{out.version} kept: the re-plan found no better plan (nothing stored)"
    elif out.base_version is None:
        what = f"plan v{out.version} stored (the first plan)"
    else:
        what = f"plan v{out.version} stored (from v{out.base_version})"
        if out.kept_old:
            what += ": the old plan kept, trimmed to the demand (the re-plan was not better)"
    console.print(f"{what} in {out.replan_s:.2f} s", highlight=False, soft_wrap=True)
    if plan:
        _print_kpis(plan)
    if out.check:
        console.print(check_line(out.check), highlight=False, soft_wrap=True)
    for line, res in (out.dispatch or {}).items():
        console.print(f"dispatch {line}: {_result_text(res)}", highlight=False)


def _result_text(res: Any) -> str:
    if isinstance(res, dict):
        return f"{res.get('status')}" + (f" ({res.get('detail')})" if res.get("detail") else "")
    return str(res)


def _short_kpis(plan: Plan) -> dict[str, Any]:
    k = plan.kpis
    keys = ("cars", "unmet", "fulfilment", "makespan_s", "energy_kwh", "kwh_per_vehicle", "peak_kw",
            "idle_resources", "dedicated_idle_h", "energy")  # fmt: skip
    return {key: k.get(key) for key in keys}


def _print_kpis(plan: Plan) -> None:
    k = plan.kpis
    console.print(
        f"cars {k.get('cars')}  unmet {k.get('unmet')}  fulfilment {k.get('fulfilment')}  "
        f"makespan {float(k.get('makespan_s') or 0) / 3600:.2f} h  energy {k.get('energy_kwh')} kWh  "
        f"{k.get('kwh_per_vehicle')} kWh/vehicle  peak {k.get('peak_kw')} kW",
        highlight=False,
        soft_wrap=True,  # one line even when piped (rich would wrap at 80 columns)
    )
    console.print(energy_line(k, plan.meta.get("energy")), highlight=False, soft_wrap=True)
    table = Table("resource", "cars", "models", "utilisation", "busy h", "powered h", "idle h")
    for rid, r in (k.get("resources") or {}).items():
        table.add_row(rid, str(r["cars"]), ", ".join(r["models"]) or "-", f"{r['utilisation']:.0%}",
                      f"{r['busy_h']:.2f}", f"{r['powered_h']:.2f}", f"{r['idle_h']:.2f}")  # fmt: skip
    console.print(table)


@plan_app.command("show")
def plan_show(
    ctx: typer.Context,
    version: int = typer.Argument(None, metavar="VERSION", help="Plan version (default: the current one)."),
    json_out: bool = _JSON,
) -> None:
    """A plan with its KPIs and lots."""
    store = open_store(ctx)
    try:
        plan = store.get_plan(version)
    except TwinError as exc:
        fail(str(exc))
    if json_out:
        print_json(plan.model_dump())
        return
    current = store.current_plan_version()
    console.print(
        f"plan v{plan.version}{' (current)' if plan.version == current else ''}: {plan.reason}  "
        f"demand {dict(sorted(plan.demand.items()))}",
        highlight=False,
    )
    _print_kpis(plan)
    table = Table("lot", "resource", "model", "cars", "start h", "end h")
    for a in plan.assignments:
        table.add_row(
            a.lot, a.resource, a.model, str(a.quantity), f"{a.start_s / 3600:.2f}", f"{a.end_s / 3600:.2f}"
        )
    console.print(table)


@plan_app.command("list")
def plan_list(ctx: typer.Context, json_out: bool = _JSON) -> None:
    """Stored plan versions."""
    store = open_store(ctx)
    versions = store.plan_versions()
    if json_out:
        print_json({"versions": versions, "current": store.current_plan_version()})
        return
    if not versions:
        console.print("no plans yet: run `twin replan` to make the first one", highlight=False)
        return
    for v in versions:
        p = store.get_plan(v)
        console.print(f"v{v}: {p.reason} ({len(p.assignments)} lots)", highlight=False)


@plan_app.command("diff")
def plan_diff_cmd(
    ctx: typer.Context,
    a: int = typer.Argument(..., metavar="A", help="From version."),
    b: int = typer.Argument(..., metavar="B", help="To version."),
    json_out: bool = _JSON,
) -> None:
    """What moved where between two plan versions."""
    from twin.schedule.plant.plans import plan_diff

    store = open_store(ctx)
    try:
        d = plan_diff(store.get_plan(a), store.get_plan(b))
    except TwinError as exc:
        fail(str(exc))
    if json_out:
        print_json(d)
        return
    console.print(f"plan v{a} -> v{b}", highlight=False)
    for m, ch in d["demand"].items():
        console.print(f"  demand {m}: {ch['from']} -> {ch['to']}", highlight=False)
    for rid, ch in d["models_per_resource"].items():
        console.print(f"  {rid}: builds {', '.join(ch['before']) or 'nothing'} -> "
                      f"{', '.join(ch['after']) or 'nothing (off)'}", highlight=False)  # fmt: skip
    for x in d["reassigned"]:
        console.print(f"  {x['lot']} ({x['model']}) moved {x['from']} -> {x['to']}", highlight=False)
    for x in d["moved"]:
        a_s, b_s = x["start_from"], x["start_to"]
        console.print(f"  {x['lot']} ({x['model']}) on {x['resource']}: start {_clock(a_s)} -> {_clock(b_s)} "
                      f"({_delta(b_s - a_s)})", highlight=False)  # fmt: skip
    for x in d["resized"]:
        console.print(f"  {x['lot']} ({x['model']}) {x['from']} -> {x['to']} cars", highlight=False)
    for x in d["removed"]:
        console.print(
            f"  {x['lot']} ({x['model']}, {x['quantity']} cars on {x['resource']}) dropped", highlight=False
        )
    for x in d["added"]:
        console.print(
            f"  {x['lot']} ({x['model']}, {x['quantity']} cars) added on {x['resource']}", highlight=False
        )
    for key, ch in d["kpis"].items():
        console.print(f"  {key}: {ch['from']} -> {ch['to']} ({ch['delta']:+})", highlight=False)
    for text in diff_lines(d):
        console.print(text, highlight=False)


def _clock(seconds: float) -> str:
    """Plan time as h:mm:ss (a move of seconds must not print as ``2.93 h -> 2.93 h``)."""
    total = round(seconds)
    sign = "-" if total < 0 else ""
    h, rest = divmod(abs(total), 3600)
    return f"{sign}{h}:{rest // 60:02d}:{rest % 60:02d}"


def _delta(seconds: float) -> str:
    """A signed duration in the unit that reads best: ``+18 s``, ``-2.5 min``, ``+1.25 h``."""
    if abs(seconds) < 60:
        return f"{seconds:+.0f} s"
    if abs(seconds) < 3600:
        return f"{seconds / 60:+.1f} min"
    return f"{seconds / 3600:+.2f} h"


@app.command()
def replanner(
    ctx: typer.Context,
    threshold: float = typer.Option(
        0.1, "--threshold", help="Relative demand change that triggers a re-plan."
    ),
    duration: float = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: Ctrl-C)."
    ),
    time_limit: float = _TIME,
    freeze_min: float = _FREEZE,
    workers: int = _WORKERS,
    check: bool = _CHECK,
    dispatch: bool = _DISPATCH,
    power_cap: str = _CAP,
    objective: str = _OBJECTIVE,
) -> None:
    """The re-planner service: follows demand events and re-plans when a model's demand moves enough."""
    from twin.schedule.plant.trigger import Replanner

    if threshold < 0:
        fail(f"--threshold must be >= 0 (got {threshold})")
    store = open_store(ctx)
    plant = store.plant()
    writer = _writer(store, plant, timeout=5.0) if dispatch else None
    cfg = _trigger_config(threshold, time_limit, freeze_min, None, workers, 0, check, power_cap, objective)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if duration is not None:
        threading.Timer(duration, stop.set).start()
    console.print(
        f"re-planner following demand of plant {plant.id} (threshold {threshold:.0%})", highlight=False
    )
    try:
        Replanner(store, config=cfg, writeback=writer).run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


@bench_app.command("replan")
def bench_replan(
    ctx: typer.Context,
    json_out: bool = _JSON,
    quick: bool = typer.Option(False, "--quick", help="Finish in under 60 s."),
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
) -> None:
    """Demo demand drop end to end (detect, re-plan, check) vs keeping the plan; generated instances."""
    from benchmarks.replan import demo_scenario, energy_scenario, run_generated
    from twin.config import load_plant
    from twin.embedded import EmbeddedRedis

    plant = load_plant(config)
    t0 = time.perf_counter()
    # Always a private Redis: the bench stores plans and changes demand, which must not touch a live twin.
    with EmbeddedRedis() as server:
        store = TwinStore.from_url(server.url, plant.id)
        try:
            store.load_plant(plant)
            demo = demo_scenario(store, plant, time_limit_s=2.0 if quick else 3.0)
        finally:
            store.close()
    energy = energy_scenario(plant, time_limit_s=2.0 if quick else 3.0)
    instances = run_generated(quick, time_limit_s=2.0 if quick else 10.0)
    doc = {"demo": demo, "energy": energy, "instances": instances, "quick": quick,
           "wall_s": round(time.perf_counter() - t0, 2)}  # fmt: skip
    if json_out:
        print_json(doc)
        return
    console.print(
        f"demo: {demo['model']} demand {demo['demand_before']} -> {demo['demand_after']}; re-plan "
        f"{demo['replan_s']:.2f} s; unmet {demo['unmet_before']} -> {demo['unmet_after']}; kWh/vehicle "
        f"{demo['kwh_per_vehicle_before']} -> {demo['kwh_per_vehicle_after']}; {demo['dedicated_line']} idle "
        f"{demo['dedicated_line_idle_before']} h -> {demo['dedicated_line_idle_after']} h",
        highlight=False,
    )
    console.print(
        f"energy: cap {energy['cap_kw']} kW; peak {energy['peak_kw_plain']} -> {energy['peak_kw_energy']} kW "
        f"(simulated 15-min {energy['sim_peak_15min_kw_energy']} kW); cost {energy['cost_plain']:,.0f} -> "
        f"{energy['cost_energy']:,.0f} {energy['currency']}; unmet {energy['unmet_plain']} -> "
        f"{energy['unmet_energy']}; re-plan {energy['replan_s_energy']:.2f} s",
        highlight=False,
        soft_wrap=True,
    )
    for row in instances:
        console.print(str(row), highlight=False)

"""Core commands: ``twin load``, ``twin status``, ``twin graph ...`` and ``twin plant generate``."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.cli import app
from twin.cli.common import console, fail, open_store, print_json, settings
from twin.config import load_plant
from twin.model import PROCESSING_TYPES
from twin.store import TwinStore

__all__ = ["graph_app", "graph_bottleneck", "graph_route", "load", "plant_app", "plant_generate", "status"]

graph_app = typer.Typer(help="Analyses of the plant graph held in Redis.", no_args_is_help=True)
plant_app = typer.Typer(help="Plant definitions.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")
app.add_typer(plant_app, name="plant")

#: Live values shown as table columns by ``twin status`` (the JSON has all of them).
_STATUS_COLUMNS = ("model", "part_count", "cycle_time_s", "power_kw", "level")
_STATE_STYLE = {
    "Running": "green",
    "Idle": "white",
    "Blocked": "yellow",
    "Starved": "yellow",
    "Fault": "bold red",
    "Changeover": "cyan",
    "Off": "dim",
}


@app.command()
def load(
    ctx: typer.Context,
    config: Path = typer.Option(..., "--config", "-c", help="Plant definition (YAML)."),
    migrate: bool = typer.Option(False, "--migrate", help="Replace a different definition already loaded."),
    time_scale: float = typer.Option(
        None,
        "--time-scale",
        help="Speed of the simulated plant feeding this twin (`twin sim --speed`), so that viewers show "
        "rates per plant hour; 1 for real PLCs. Unchanged if omitted.",
    ),
) -> None:
    """Load a plant definition into Redis as a graph (needs --redis-url / REDIS_URL)."""
    if time_scale is not None and not (math.isfinite(time_scale) and time_scale > 0):
        fail(f"--time-scale must be a positive number (got {time_scale})")
    t0 = time.perf_counter()
    plant = load_plant(config)  # a broken file fails here (exit 2) before Redis is needed
    t_parse = time.perf_counter() - t0
    url = settings(ctx).redis_url
    if not url:
        fail("twin load needs a Redis to load into: set REDIS_URL or pass --redis-url redis://HOST:PORT/DB")
    store = TwinStore.from_url(url, plant.id)
    t1 = time.perf_counter()
    res = store.load_plant(plant, migrate=migrate)
    if time_scale is not None:
        store.set_time_scale(time_scale)
    t_load = time.perf_counter() - t1
    from twin.graph import build_graph  # networkx: imported only by the commands that need it

    t2 = time.perf_counter()
    g = build_graph(store.nodes(), store.edges())
    t_graph = time.perf_counter() - t2
    eq = plant.equipment()
    stations = sum(1 for e in eq if e.type in PROCESSING_TYPES)
    tags = sum(len(e.tags()) for e in eq)
    what = "loaded" if res["changed"] else "unchanged (same definition already loaded):"
    if res.get("migrated"):
        what = "migrated"
    console.print(
        f"{what} {len(plant.lines)} lines, {stations} stations, {tags} tags in {t_parse + t_load:.2f} s "
        f"(config {t_parse:.2f} s, Redis {t_load:.2f} s); graph view {t_graph:.2f} s "
        f"({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)",
        highlight=False,
        soft_wrap=True,
    )


def _age(updated: Any) -> str:
    if not isinstance(updated, int | float):
        return "-"
    return f"{max(0.0, time.time() - updated):.1f} s ago"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if math.isfinite(value) else str(value)
    return str(value)


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help='Print {"equipment": [...]} as JSON.'),
    line: str = typer.Option(None, "--line", "-l", help="Only this line."),
) -> None:
    """Lines and stations with their live state."""
    store = open_store(ctx)
    if line is not None and line not in store.plant().line_by_id():
        known = ", ".join(store.plant().line_by_id())
        fail(f"unknown line {line!r} (known: {known})")
    rows = store.status(line)
    problems = store.mapping_problems(line)
    if as_json:
        print_json({"equipment": rows, "problems": problems})
        return
    # piped output (no terminal) would be squeezed to 80 columns and cut the ids: print it wide
    out = console if console.is_terminal else Console(width=max(console.width, 160))
    out.print(_status_table(store.plant_id, rows, problems))
    counts: dict[str, int] = {}
    for r in rows:
        key = str(r.get("state") or "no data")
        counts[key] = counts.get(key, 0) + 1
    out.print(
        f"{len(rows)} pieces of equipment: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
        highlight=False,
    )
    if problems:
        out.print(f"[bold red]{len(problems)} mapping problem(s)[/] (the rest keeps mirroring):")
        for p in problems:  # text from the config and the PLC: printed as it is, never as markup
            out.print(
                f"  {p['equipment']}.{p['tag']} -> {p['node']}: {p['problem']}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _status_table(plant_id: str, rows: list[dict[str, Any]], problems: list[Any]) -> Table:
    """The status table; a ``problems`` column (mapping problems per equipment) when there are any."""
    per_eq: dict[str, int] = {}
    for p in problems:
        per_eq[p["equipment"]] = per_eq.get(p["equipment"], 0) + 1
    extra = ("problems",) if per_eq else ()
    table = Table(title=f"plant {plant_id}", show_lines=False)
    for col in ("id", "type", "line", "state", "quality", "updated", *_STATUS_COLUMNS, *extra):
        table.add_column(col, justify="right" if col in (*_STATUS_COLUMNS, *extra) else "left")
    for r in rows:
        state = r.get("state")
        style = _STATE_STYLE.get(str(state), "")
        table.add_row(
            r["id"],
            r["type"],
            r["line"],
            f"[{style}]{escape(str(state))}[/]" if style else escape(_cell(state)),
            r["quality"],
            _age(r.get("updated")),
            *(escape(_cell(r.get(c))) for c in _STATUS_COLUMNS),
            *((str(per_eq.get(r["id"], "")),) if extra else ()),
        )
    return table


def _graph(ctx: typer.Context) -> tuple[TwinStore, Any]:
    from twin.graph import build_graph

    store = open_store(ctx)
    return store, build_graph(store.nodes(), store.edges())


def _print_list(title: str, items: list[str], as_json: bool, key: str) -> None:
    if as_json:
        print_json({key: items})
        return
    console.print(f"{title}: {len(items)}", highlight=False)
    for item in items:
        sys.stdout.write(f"{item}\n")


def _flow_command(direction: Literal["upstream", "downstream"], doc: str) -> None:
    """Register ``twin graph upstream|downstream STATION``: the same command, walking the flow one way."""

    def command(
        ctx: typer.Context,
        station: str = typer.Argument(..., metavar="STATION", help="Equipment id (e.g. L1-MA)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
    ) -> None:
        from twin.graph import downstream, upstream

        walk = upstream if direction == "upstream" else downstream
        _store, g = _graph(ctx)
        _print_list(f"{direction} of {station}", walk(g, station), as_json, direction)

    command.__doc__ = doc  # typer's help text
    command.__name__ = f"graph_{direction}"
    graph_app.command(direction)(command)


_flow_command("upstream", "Equipment a car can come from to reach STATION, nearest first.")
_flow_command("downstream", "Equipment a car can go on to from STATION, nearest first.")


@graph_app.command("route")
def graph_route(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="Product model id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """The routes MODEL can take through the plant: per route its lines, stations per step and takt."""
    from twin.graph import routes

    store, g = _graph(ctx)
    found = routes(store.plant(), g, model)
    if as_json:
        print_json({"model": model, "routes": [r.to_dict() for r in found]})
        return
    if not found:
        console.print(f"model {model} has no route through the plant", highlight=False)
        return
    for i, r in enumerate(found, 1):
        console.print(
            f"[bold]route {i}[/]: {' -> '.join(r.lines)}  takt {r.takt_s:.1f} s "
            f"(bottleneck {r.bottleneck}, {3600 / r.takt_s:.1f} cars/h)",
            highlight=False,
        )
        if r.path is not None:
            console.print("  " + " -> ".join(r.path), highlight=False, soft_wrap=True)
        else:
            for s in r.steps:
                console.print(
                    f"  {s.operation:<16} {s.cycle_s:>6.1f} s  {', '.join(s.stations)}",
                    highlight=False,
                    soft_wrap=True,
                )


@graph_app.command("bottleneck")
def graph_bottleneck(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """The current bottleneck of each line and of the plant (faults first, then the slowest station)."""
    from twin.graph import bottleneck as find_bottleneck

    store, g = _graph(ctx)
    plant = store.plant()
    demand = store.demand()
    # only models that are to be built count towards design cycle times (all, if no demand is set)
    wanted = [m for m, q in demand.items() if q > 0] if demand else None
    report = find_bottleneck(plant, g, store.status(), models=wanted or None)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"bottlenecks of {plant.id}")
    for col in ("scope", "station", "cycle s", "reason", "state"):
        table.add_column(col)
    scopes = [("plant", report.plant), *report.lines.items()]
    for scope, b in scopes:
        if b is None:
            table.add_row(scope, "-", "", "nothing running", "")
        else:
            table.add_row(
                scope, b.station, "" if b.cycle_s is None else f"{b.cycle_s:.1f}", b.reason, b.state or ""
            )
    console.print(table)


@plant_app.command("generate")
def plant_generate(
    lines: int = typer.Option(10, "--lines", min=1, help="Flow lines."),
    stations: int = typer.Option(50, "--stations", min=1, help="Stations per line."),
    tags: int = typer.Option(20, "--tags", min=1, help="Tags per station, the standard ones included."),
    models: int = typer.Option(4, "--models", min=1, help="Product models."),
    buffer_every: int = typer.Option(0, "--buffer-every", min=0, help="A buffer after every N stations."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same plant)."),
) -> None:
    """Print a synthetic plant of the given size as YAML (for scale work)."""
    from twin.generate import generate_yaml

    sys.stdout.write(
        generate_yaml(lines, stations, tags, seed=seed, models=models, buffer_every=buffer_every)
    )
    sys.stdout.flush()

"""``twin opcua browse|draft``: look at a PLC's address space, and draft a plant file from it; ``twin bench
browse``: both on a 10,000-variable node-opcua server against a naive browse."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import typer

from twin.cli import app, bench_app
from twin.cli.common import console, err_console, fail, print_json
from twin.config import parse_plant

__all__ = ["bench_browse", "client_security", "opcua_app"]

opcua_app = typer.Typer(help="Browse a PLC's OPC UA address space; draft a plant file from it.")
app.add_typer(opcua_app, name="opcua")

_MODE = typer.Option("None", "--security-mode", help="None, Sign or SignAndEncrypt.")
_CERT = typer.Option(None, "--cert", help="Client certificate (DER/PEM) for Sign/SignAndEncrypt.")
_KEY = typer.Option(None, "--key", help="Client private key (PEM).")
_TRUST = typer.Option(None, "--trust", help="Trusted server certificate file or directory.")
_USER = typer.Option(None, "--user", envvar="TWIN_OPCUA_USER", help="OPC UA user name.")
_PASSWORD = typer.Option(None, "--password", envvar="TWIN_OPCUA_PASSWORD", help="OPC UA password.")


def client_security(
    mode: str,
    cert: Path | None,
    key: Path | None,
    trust: list[Path] | None,
    user: str | None,
    password: str | None,
) -> Any:
    """The client's security settings from the command-line options (None: anonymous, no security)."""
    from adapters.opcua.security import ClientSecurity

    if mode == "None" and not user:
        return None
    return ClientSecurity(
        mode=mode,
        certificate=cert,
        private_key=key,
        trusted_servers=tuple(trust or ()),
        username=user,
        password=password,
    )


def _check_url(url: str) -> None:
    if not url.startswith("opc.tcp://"):
        fail(f"bad endpoint {url!r}: expected opc.tcp://HOST:PORT[/PATH]", code=2)


async def _browse(url: str, sec: Any, root: str | None, depth: int | None, values: bool) -> list[Any]:
    from adapters.opcua.browse import browse
    from adapters.opcua.check import connected

    async with connected(url, sec) as client:
        return await browse(client, root, depth, values)


def _print_tree(nodes: list[Any]) -> None:
    """The browsed nodes as an indented tree (depth first)."""
    children: dict[str | None, list[Any]] = {}
    for n in nodes:
        children.setdefault(n.parent, []).append(n)
    stack = list(reversed(children.get(None, [])))
    while stack:
        n = stack.pop()
        name = n.browse_path[-1].rpartition(":")[2]
        detail = ""
        if n.node_class == "Variable":
            rank = "[]" if (n.value_rank or -1) >= 1 else ""
            unit = f" {n.unit}" if n.unit else ""
            detail = f" {n.data_type}{rank}{unit} = {n.value!r}"
        line = f"{'  ' * (n.depth - 1)}{name}  [dim]{n.node_id}[/]{detail}"
        console.print(line, highlight=False, soft_wrap=True)
        stack.extend(reversed(children.get(n.node_id, [])))


@opcua_app.command("browse")
def browse_cmd(
    url: str = typer.Argument(..., help="Endpoint, opc.tcp://HOST:PORT[/PATH]."),
    root: str = typer.Option(None, "--root", help="Start here (a NodeId, nsu= form); default: Objects."),
    depth: int = typer.Option(None, "--depth", min=1, help="Levels below the root (default: all)."),
    as_json: bool = typer.Option(False, "--json", help='JSON: {"nodes": [...]}.'),
    security_mode: str = _MODE,
    cert: Path = _CERT,
    key: Path = _KEY,
    trust: list[Path] = _TRUST,
    user: str = _USER,
    password: str = _PASSWORD,
) -> None:
    """The address space under a root: Objects and Variables with type, rank, unit and value."""
    _check_url(url)
    sec = client_security(security_mode, cert, key, trust, user, password)
    t0 = time.perf_counter()
    nodes = asyncio.run(_browse(url, sec, root, depth, True))
    wall = time.perf_counter() - t0
    if as_json:
        print_json({"nodes": [n.as_json() for n in nodes]})
    else:
        _print_tree(nodes)
    err_console.print(f"{len(nodes)} nodes in {wall:.2f} s", highlight=False)


@opcua_app.command("draft")
def draft_cmd(
    url: str = typer.Argument(..., help="Endpoint, opc.tcp://HOST:PORT[/PATH]."),
    out: Path = typer.Option(..., "--out", "-o", help="Plant file to write (YAML)."),
    type_node: str = typer.Option(
        None, "--type", help="One station per instance of this ObjectType (NodeId)."
    ),
    line: str = typer.Option("L1", "--line", help="Id of the line the stations go on."),
    root: str = typer.Option(
        None, "--root", help="Browse from here (a NodeId, nsu= form); default: Objects."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    security_mode: str = _MODE,
    cert: Path = _CERT,
    key: Path = _KEY,
    trust: list[Path] = _TRUST,
    user: str = _USER,
    password: str = _PASSWORD,
) -> None:
    """Write a plant file (loads as it is) with one station per object holding variables."""
    from adapters.opcua.draft import draft_plant

    _check_url(url)
    if out.exists() and not force:
        fail(f"{out} exists: pass --force to overwrite it", code=2)
    sec = client_security(security_mode, cert, key, trust, user, password)
    t0 = time.perf_counter()
    nodes = asyncio.run(_browse(url, sec, root, None, False))
    type_id = _type_id(url, sec, type_node) if type_node else None
    text = draft_plant(nodes, url, line, type_id)
    plant = parse_plant(text, source=str(out))  # the draft must load as it is
    out.write_text(text, encoding="utf-8")
    n_tags = sum(len(e.extra_tags) + len(e.opcua) for e in plant.equipment())
    console.print(
        f"wrote {out}: {len(plant.equipment())} stations, {n_tags} tags ({time.perf_counter() - t0:.2f} s)",
        highlight=False,
    )


def _type_id(url: str, sec: Any, type_node: str) -> str:
    """``--type`` in the nsu= form browse reports TypeDefinitions in."""
    from adapters.opcua.check import connected
    from adapters.opcua.mapping import format_nodeid, parse_nodeid

    async def run() -> str:
        async with connected(url, sec) as client:
            ns = list(await client.get_namespace_array())
            return format_nodeid(parse_nodeid(type_node, ns), ns)

    return asyncio.run(run())


@bench_app.command("browse")
def bench_browse(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    quick: bool = typer.Option(False, "--quick", help="2,000 variables, one run (under a minute)."),
    bulk: int = typer.Option(None, "--nodes", min=1, help="Variables on the server (default 10,000)."),
) -> None:
    """Browse + draft of a generated node-opcua server vs a naive browse (one Browse call per node)."""
    from benchmarks.browse import run_browse_bench
    from benchmarks.nodeopcua import NodeOpcuaError

    t0 = time.perf_counter()
    try:
        res = run_browse_bench(quick=quick, bulk=bulk)
    except NodeOpcuaError as exc:
        fail(str(exc))
    res["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if as_json:
        print_json(res)
        return
    for k, v in res.items():
        console.print(f"{k:24} {v}", highlight=False)

"""Graph queries the API answers, on :mod:`twin.graph` (the plant's networkx view and its analyses).

The graph is built from what the store holds; live rows are normalised (state codes to names) before the
bottleneck analysis sees them.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from twin import graph as tg
from twin.errors import NotFoundError
from twin.kpi import state_name
from twin.model import Plant
from twin.store import TwinStore

__all__ = ["bottleneck", "neighbours", "routes", "store_graph"]


def store_graph(store: TwinStore) -> nx.MultiDiGraph:
    """The typed plant graph from the store's nodes and edges."""
    return tg.build_graph(store.nodes(), store.edges())


def neighbours(store: TwinStore, node: str, direction: str) -> list[dict[str, Any]]:
    """Equipment up- or downstream of ``node`` along the material flow, nearest first, with hop distance."""
    g = store_graph(store)
    order = tg.upstream(g, node) if direction == "upstream" else tg.downstream(g, node)
    f = tg.flow_graph(g)
    view = f.reverse(copy=False) if direction == "upstream" else f
    dist = nx.single_source_shortest_path_length(view, node)
    return [
        {"id": n, "type": g.nodes[n].get("type"), "line": g.nodes[n].get("line"), "distance": dist[n]}
        for n in order
    ]


def routes(store: TwinStore, model: str) -> list[dict[str, Any]]:
    """Every route of ``model`` through the plant (see :func:`twin.graph.routes`)."""
    return [r.to_dict() for r in tg.routes(store.plant(), store_graph(store), model)]


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    name = state_name(row.get("state"))
    if name is not None:
        out["state"] = name
    return out


def bottleneck(store: TwinStore, line: str | None = None) -> dict[str, Any]:
    """The bottleneck of one line (or of the plant) now, and of every line considered."""
    plant: Plant = store.plant()
    if line is not None and line not in plant.line_by_id():
        raise NotFoundError(f"unknown line {line!r}")
    rows = [_normalise(r) for r in store.status(line)]
    report = tg.bottleneck(plant, store_graph(store), rows).to_dict()
    lines = report["lines"] if line is None else {line: report["lines"].get(line)}
    return {"line": line, "bottleneck": report["plant"] if line is None else lines[line], "lines": lines}

"""``twin bench failover`` (Redis Cluster master killed), ``twin bench soak`` (the demo for N minutes),
``twin bench scale`` (sharded adapters on a cluster): reliability and scale benches printing JSON."""

from __future__ import annotations

import time

import typer

from twin.cli import bench_app
from twin.cli.common import console, print_json

__all__ = ["bench_failover"]


@bench_app.command("failover")
def bench_failover(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="A shorter run (about 20 s)."),
    node_timeout_ms: int = typer.Option(1000, "--node-timeout-ms", min=100, help="cluster-node-timeout."),
) -> None:
    """Kill a Redis Cluster master mid-ingest and mid re-plan (3 masters + 3 replicas on loopback): resume
    time after the replica's promotion, changes lost, plan versions intact."""
    from benchmarks.failover import run_failover_bench

    t0 = time.perf_counter()
    res = run_failover_bench(quick=quick, node_timeout_ms=node_timeout_ms)
    res["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if json_out:
        print_json(res)
        return
    for k, v in res.items():
        console.print(f"{k:36} {v}", highlight=False)

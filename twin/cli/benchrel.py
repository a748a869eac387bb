"""``twin bench failover`` (Redis Cluster master killed), ``twin bench soak`` (the demo for N minutes),
``twin bench scale`` (sharded adapters on a cluster): reliability and scale benches printing JSON."""

from __future__ import annotations

import time

import typer

from twin.cli import bench_app
from twin.cli.common import console, print_json

__all__ = ["bench_failover", "bench_scale", "bench_soak"]


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


@bench_app.command("soak")
def bench_soak(
    minutes: float = typer.Option(10.0, "--minutes", min=0.1, help="How long to run after start-up."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ws_clients: int = typer.Option(5, "--ws-clients", min=1, help="WebSocket clients on the change feed."),
    sample_s: float = typer.Option(None, "--sample-s", help="Seconds between samples (default: ~60 a run)."),
    stream_maxlen: int = typer.Option(
        None,
        "--stream-maxlen",
        min=1000,
        help="The change stream's cap (smaller: Redis's plateau is in the run).",
    ),
) -> None:
    """The demo at 60x as separate processes (redis-server, sim, adapter, API) with WebSocket and API
    clients for N minutes: RSS slope and p99 latency per process, changes lost, errors."""
    from benchmarks.soak import run_soak

    res = run_soak(minutes, sample_s=sample_s, ws_clients=ws_clients, stream_maxlen=stream_maxlen)
    if json_out:
        print_json(res)
        return
    for p in res["processes"]:
        console.print(
            f"{p['name']:14} RSS slope {p['rss_slope_pct_per_h']} %/h, p99 {p['p99_latency_ms']} ms",
            highlight=False,
        )
    console.print(f"changes lost {res['changes_lost']}, errors {res['errors']}", highlight=False)


@bench_app.command("scale")
def bench_scale(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="Shards 1 and 2, two plants (about a minute)."),
    shards: list[int] = typer.Option(None, "--shards", help="Shard counts to measure (default 1 2 4)."),
    plants: int = typer.Option(
        None, "--plants", min=1, help="Plants of 10x50x20 tags for the memory figure."
    ),
) -> None:
    """Sharded adapters (twin adapt --shard I/N) on a 3-master Redis Cluster fed by fast OPC UA load servers:
    changes/s per shard count, Redis memory per 10k tags, the cost of a status read at 500 stations."""
    from benchmarks.scale import run_scale_bench

    t0 = time.perf_counter()
    res = run_scale_bench(quick=quick, shards=shards or None, plants=plants)
    res["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if json_out:
        print_json(res)
        return
    for row in res["shards"]:
        console.print(
            f"{row['n']} shard(s): {row['changes_per_s']} changes/s (x{row['ratio_to_1']})", highlight=False
        )
    console.print(
        f"Redis {res['redis_mb_per_10k_tags']} MB per 10k tags ({res['tags']} tags)", highlight=False
    )

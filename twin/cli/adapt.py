"""``twin adapt`` (OPC UA adapters mirroring PLCs into the twin) and ``twin bench ingest``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

import typer

from twin.cli import app, bench_app
from twin.cli.common import DEFAULT_CONFIG, console, fail, print_json, redis_url_or_embedded, settings
from twin.config import load_plant
from twin.store import DEFAULT_STREAM_MAXLEN, TwinStore

__all__ = ["adapt", "bench_ingest", "keep_renewed_for"]

log = logging.getLogger("twin.adapt")


def _parse_endpoints(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        line, sep, url = item.partition("=")
        if not sep or not line or not url.startswith("opc.tcp://"):
            fail(f"bad --endpoint {item!r}: expected LINE=opc.tcp://HOST:PORT[/PATH]")
        out[line] = url
    return out


@app.command()
def adapt(
    ctx: typer.Context,
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
    shard: str = typer.Option(None, "--shard", help="Mirror only shard I of N (e.g. 1/2); deterministic."),
    endpoint: list[str] = typer.Option(None, "--endpoint", help="Override a line's endpoint: LINE=URL."),
    publish_interval_ms: float = typer.Option(100.0, "--publish-interval-ms", help="Subscription interval."),
    stale_after_s: float = typer.Option(3.0, "--stale-after", help="Silent this long -> stale, reconnect."),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds (default: run)."),
    security_mode: str = typer.Option("None", "--security-mode", help="None, Sign or SignAndEncrypt."),
    cert: Path = typer.Option(None, "--cert", help="Client certificate (DER/PEM) for Sign/SignAndEncrypt."),
    key: Path = typer.Option(None, "--key", help="Client private key (PEM)."),
    trust: list[Path] = typer.Option(None, "--trust", help="Trusted server certificate file or directory."),
    user: str = typer.Option(None, "--user", envvar="TWIN_OPCUA_USER", help="OPC UA user name."),
    password: str = typer.Option(None, "--password", envvar="TWIN_OPCUA_PASSWORD", help="OPC UA password."),
    outage_buffer: int = typer.Option(
        100_000, "--outage-buffer", min=1, help="Changes kept (in order) while Redis is unreachable."
    ),
    stream_maxlen: int = typer.Option(
        DEFAULT_STREAM_MAXLEN,
        "--stream-maxlen",
        min=1000,
        envvar="TWIN_STREAM_MAXLEN",
        help="Entries the change stream keeps (older ones are trimmed; the archive keeps them).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Resolve the mapping, print each tag's node/type/unit/value; write nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --check: the rows as JSON."),
    pki: Path = typer.Option(
        None, "--pki", envvar="TWIN_PKI_DIR", help="Certificate store: own cert (renewed), trusted, rejected."
    ),
    cert_check_s: float = typer.Option(3600.0, "--cert-check-s", hidden=True, help="Renewal check period."),
) -> None:
    """Mirror the plant's PLCs (OPC UA) into the Redis twin, reconnecting forever (SIGTERM stops cleanly)."""
    from adapters.opcua.runner import AdapterSet, Shard
    from adapters.opcua.session import AdapterOptions
    from twin.cli.opcua import client_security

    plant = load_plant(config)
    if pki is not None and (cert or key or trust):
        fail("--pki holds the certificate, key and trust list: drop --cert/--key/--trust", code=2)
    store_pki = _pki_store(pki)
    if store_pki is not None:
        sec = store_pki.client_security(security_mode, user, password)
    else:
        sec = client_security(security_mode, cert, key, trust, user, password)
    if check:
        _check(plant, _parse_endpoints(endpoint), sec, as_json)
        return
    url = settings(ctx).redis_url
    if not url:
        fail("twin adapt needs the twin's Redis: set REDIS_URL or pass --redis-url redis://HOST:PORT/DB")
    opts = AdapterOptions(publish_interval_ms=publish_interval_ms, stale_after_s=stale_after_s, security=sec)
    store = TwinStore.from_url(url, plant.id)
    store.load_plant(plant)  # a no-op if this definition is loaded; refuses a different one clearly
    store.check_ingest_access()  # a Redis user without the adapter's permissions: one clear error, now
    store.close()
    # A bounded, ordered buffer rides out Redis outages and replays on reconnect (docs/reliability.md).
    from adapters.opcua.buffer import OutageBuffer
    from twin.store import AsyncTwinStore

    raw_store = AsyncTwinStore.from_url(
        url, plant.id, {e.id: e.line for e in plant.equipment()}, stream_maxlen=stream_maxlen
    )
    buffer = OutageBuffer(raw_store, max_changes=outage_buffer)
    aset = AdapterSet(
        plant, url, shard=Shard.parse(shard), endpoints=_parse_endpoints(endpoint), options=opts, store=buffer
    )
    if not aset.adapters:
        fail("nothing to mirror: no line of this plant (or of this shard) has an OPC UA endpoint")
    console.print(
        f"mirroring {aset.tag_count} tags from {len(aset.adapters)} endpoint(s)"
        + (f" (shard {shard})" if shard else ""),
        highlight=False,
    )
    renew = None
    if store_pki is not None:
        renew = functools.partial(keep_renewed_for, store_pki, aset, cert_check_s)
    if not asyncio.run(_run(aset, duration, buffer, renew)):
        fail("Redis stayed unreachable at shutdown: buffered changes were not written")


def _check(plant: Any, endpoints: dict[str, str], sec: Any, as_json: bool) -> None:
    """``twin adapt --check``: one row per tag of every endpoint; exit 1 if any tag cannot mirror."""
    from rich.table import Table

    from adapters.opcua.check import check_bindings, connected
    from adapters.opcua.mapping import build_bindings

    bindings, _unmapped = build_bindings(plant, endpoints)
    if not bindings:
        fail("nothing to check: no line of this plant has an OPC UA endpoint")

    async def run() -> list[Any]:
        rows = []
        for url in sorted(bindings):
            async with connected(url, sec) as client:
                rows += await check_bindings(client, bindings[url])
        return rows

    rows = asyncio.run(run())
    if as_json:
        print_json({"tags": [r.as_json() for r in rows]})
    else:
        table = Table("tag", "node", "type", "unit", "value", "quality", "problem")
        for r in rows:
            table.add_row(r.tag, r.node, r.type, r.unit, repr(r.value), r.quality, r.problem)
        console.print(table)
    bad = [r for r in rows if r.problem and r.quality == "bad"]
    if bad:
        fail(f"{len(bad)} of {len(rows)} tags cannot be mirrored (see the problem column)")


def _pki_store(directory: Path | None) -> Any:
    """The adapter's certificate store, its client certificate made or renewed now (None: no --pki)."""
    if directory is None:
        return None
    from adapters.opcua.pki import PkiStore

    store = PkiStore(directory)
    if store.ensure_certificate():
        log.warning("client certificate written to %s (trust it on the PLCs)", store.cert_path)
    return store


async def keep_renewed_for(pki: Any, aset: Any, check_s: float) -> None:
    """Renew the client certificate when due; the adapters then reconnect with it."""
    from adapters.opcua.pki import keep_renewed

    def reconnect_all() -> None:
        for a in aset.adapters:
            a.reconnect()

    await keep_renewed(pki, reconnect_all, check_s=check_s)


async def _run(aset: Any, duration: float | None, buffer: Any = None, renew: Any = None) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    aset.start()
    renewer = asyncio.create_task(renew()) if renew is not None else None

    async def report() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 30)
            log.info("ingest %s", json.dumps(aset.counters()["totals"]))

    reporter = asyncio.create_task(report())
    try:
        if duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
        else:
            await stop.wait()
    finally:
        stop.set()
        reporter.cancel()
        if renewer is not None:
            renewer.cancel()
        await aset.stop()
        flushed = True
        if buffer is not None:  # after the sinks flushed into it: replay what Redis has not got yet
            flushed = await buffer.flush(timeout_s=10)
            log.info("outage buffer %s", json.dumps(buffer.counters.as_dict()))
            await buffer.store.close()
        log.info("stopped; ingest %s", json.dumps(aset.counters()["totals"]))
    return flushed


@bench_app.command("ingest")
def bench_ingest(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    quick: bool = typer.Option(False, "--quick", help="A short run (under a minute)."),
) -> None:
    """Ingest throughput, CPU per change and latency: adapter vs bare asyncua vs naive writer."""
    from benchmarks.ingest import run_ingest_bench

    t0 = time.perf_counter()
    with redis_url_or_embedded(ctx) as url:
        res = run_ingest_bench(url, quick=quick)
    res["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    if as_json:
        print_json(res)
        return
    for k, v in res.items():
        if not isinstance(v, dict):
            console.print(f"{k:36} {v}", highlight=False)

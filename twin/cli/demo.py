"""``twin demo`` (everything in one command) and ``twin sim`` (the simulated PLCs alone).

``twin demo`` wires the real loop: simulated PLCs (asyncua servers driven by the SimPy flow model) ->
OPC UA adapters (subscriptions) -> the twin in Redis, plus the API and the web viewer when they are
installed. ``--via direct`` skips OPC UA (simulator changes written straight to Redis), for debugging.
This module is part of the composition root: it imports ``adapters``/``viz`` lazily, inside the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import typer

from twin.cli import app
from twin.cli.common import DEFAULT_CONFIG, fail, settings, start_viewer
from twin.config import load_plant
from twin.embedded import port_free
from twin.errors import TwinError
from twin.kpi import state_name
from twin.model import Plant
from twin.store import AsyncTwinStore, TwinStore

log = logging.getLogger(__name__)


class _QuietSessionNotes(logging.Filter):
    """Drops asyncua's per-connection note that the server granted a shorter session timeout."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Requested session timeout")


def say(text: str) -> None:
    """One line to stdout, flushed at once (tests and users read it live)."""
    print(text, flush=True)


# ------------------------------------------------------------------------------------------ mirrors
class Mirror(Protocol):
    """How simulator values reach the twin in Redis."""

    description: str

    async def start(self) -> None:
        """Start mirroring (returns once values flow)."""

    async def stop(self) -> None:
        """Stop and flush."""


class DirectMirror:
    """Shortcut: the simulator's change batches are written straight into Redis (no OPC UA)."""

    description = "direct (simulator -> Redis, no OPC UA)"

    def __init__(self, sim: Any, store: AsyncTwinStore) -> None:
        self.sim = sim
        self.store = store

    async def _write(self, batch: list[tuple[str, str, Any, str, float]]) -> None:
        await self.store.write_changes(batch, source="sim-direct")

    async def start(self) -> None:
        """Write every current value, then follow the simulator's batches."""
        await self.store.write_changes(self.sim.sim.all_values(), source="sim-direct")
        self.sim.listeners.append(self._write)

    async def stop(self) -> None:
        """Detach from the simulator."""
        with contextlib.suppress(ValueError):
            self.sim.listeners.remove(self._write)


@dataclass
class OpcUaMirror:
    """The real path: one OPC UA adapter per simulated PLC endpoint, subscriptions -> Redis pipelines."""

    plant: Plant
    store: AsyncTwinStore
    description: str = "OPC UA (simulated PLCs -> asyncua subscriptions -> adapters -> Redis)"
    adapters: list[Any] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start an adapter per endpoint and wait until each has subscribed and re-synced."""
        from adapters.opcua.mapping import build_bindings
        from adapters.opcua.session import AdapterOptions, EndpointAdapter

        bindings, _unmapped = build_bindings(self.plant)
        for url, tags in bindings.items():
            adapter = EndpointAdapter(url, tags, self.store, AdapterOptions())
            self.adapters.append(adapter)
            self.tasks.append(asyncio.create_task(adapter.run(), name=f"adapter {url}"))
        await asyncio.gather(*(a.wait_connected(60.0) for a in self.adapters))
        for a in self.adapters:
            for p in getattr(a.status, "problems", []):
                say(f"  mapping problem: {p}")

    async def stop(self) -> None:
        """Stop every adapter (pending changes are flushed)."""
        for a in self.adapters:
            await a.stop()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=10)
            for t in pending:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


def make_mirror(via: str, sim: Any, store: AsyncTwinStore) -> Mirror:
    """The OPC UA path when the adapters are installed (else, with a note, the direct path)."""
    if via == "opcua":
        try:
            import adapters.opcua.session  # noqa: F401  (imports the mapping too)
        except ImportError as exc:
            say(f"note: OPC UA adapters not available ({exc}); writing simulator values directly")
        else:
            return OpcUaMirror(sim.plant_with_endpoints(), store)
    return DirectMirror(sim, store)


# ------------------------------------------------------------------------------------------ API / viewer
@dataclass
class Extras:
    """What runs next to the loop: the API server task and the viewer's stop function."""

    api_server: Any = None
    api_task: asyncio.Task[None] | None = None
    stop_viewer: Callable[[], Any] | None = None

    async def stop(self) -> None:
        """Stop the API and the viewer."""
        if self.api_server is not None and self.api_task is not None:
            self.api_server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.api_task, 10)
        if self.stop_viewer is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.stop_viewer)


async def start_api(
    store: TwinStore, plant: Plant, endpoints: dict[str, str], host: str, port: int
) -> Extras:
    """Serve E's API (``twin.api.create_app``) in this event loop if it exists; print how to reach it."""
    ex = Extras()
    try:
        import uvicorn

        from twin.api import create_app
        from twin.api.auth import Role, new_token, parse_tokens
        from twin.cli.serve import api_settings
    except ImportError as exc:
        say(f"  api:     not available ({exc})")
        return ex
    from twin.api.wiring import scheduler_wiring

    token, line = new_token(Role.ADMIN, "demo-admin")
    cfg = api_settings(None, None)
    cfg.tokens = parse_tokens(line)
    write = None
    try:
        from adapters.opcua.writeback import PlanWriter

        write = PlanWriter(plant, store, None, actor="api", endpoints=endpoints)
    except ImportError as exc:
        say(f"  note: no OPC UA write-back ({exc})")
    wiring = scheduler_wiring(store, write)
    for note in wiring.notes:
        say(f"  note: {note}")
    api = create_app(store, cfg, replan=wiring.replan, dispatch=wiring.dispatch, diff=wiring.diff)

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:  # the demo handles Ctrl-C itself
            yield

    server = _Server(uvicorn.Config(api, host=host, port=port, log_level="warning", lifespan="on"))
    ex.api_server = server
    ex.api_task = asyncio.create_task(server.serve(), name="api")
    for _ in range(200):
        if server.started or ex.api_task.done():
            break
        await asyncio.sleep(0.05)
    if server.started:
        say(f"  api:     http://{host}:{port}  (docs http://{host}:{port}/docs)  admin token: {token}")
    else:
        say(f"  api:     did not start on {host}:{port}")
    return ex


def _viewer_note(text: str) -> None:
    say(f"  viewer:  {text}")


# ------------------------------------------------------------------------------------------ running
def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def _wait(stop: asyncio.Event, duration: float | None, beat: Callable[[float], Any] | None) -> None:
    t0 = time.monotonic()
    next_beat = 10.0
    while not stop.is_set():
        elapsed = time.monotonic() - t0
        if duration is not None and elapsed >= duration:
            return
        timeout = 0.5 if duration is None else max(0.0, min(0.5, duration - elapsed))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        if beat is not None and time.monotonic() - t0 >= next_beat:
            next_beat += 10.0
            await beat(time.monotonic() - t0)


def _state_counts(rows: Sequence[dict[str, Any]]) -> str:
    counts = Counter(state_name(r.get("state")) or "-" for r in rows)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


async def _run_demo(
    plant: Plant,
    redis_url: str,
    *,
    speed: float,
    port: int,
    host: str,
    duration: float | None,
    via: str,
    base_port: int | None,
    api: bool,
    viewer: bool,
    seed: int,
    calendar: bool = False,
) -> None:
    from adapters.simulator import SimulatedPlant

    t_start = time.monotonic()
    client_log = logging.getLogger("asyncua.client.client")
    if not any(isinstance(f, _QuietSessionNotes) for f in client_log.filters):
        client_log.addFilter(_QuietSessionNotes())
    stop = asyncio.Event()
    _install_stop(stop)
    store = TwinStore.from_url(redis_url, plant.id)
    astore = AsyncTwinStore.from_url(redis_url, plant.id, {e.id: e.line for e in plant.equipment()})
    sim = SimulatedPlant(
        plant,
        speed=speed,
        base_port=base_port,
        use_config_endpoints=False,
        seed=seed,
        options=sim_options(calendar),
    )
    mirror: Mirror | None = None
    time_scaled = False
    extras = Extras()
    urls: list[str] = [f"redis {redis_url}"]
    try:
        # Ctrl-C during start-up sets `stop`: each phase is finished, the rest skipped, all cleaned up.
        await sim.start()
        for line_id, url in sim.endpoints.items():
            say(f"  opc ua:  {line_id} {url}")
            urls.append(f"{line_id} {url}")
        if stop.is_set():
            return
        # The PLCs serve on free ports, not the config's: the twin records where they really are, so that
        # `twin replan` (or any other tool) started from another shell dispatches to these servers.
        await asyncio.to_thread(store.load_plant, sim.plant_with_endpoints(), migrate=True)
        # Rates the viewer shows (cars/h) are per plant hour: it divides wall-clock rates by this.
        await asyncio.to_thread(store.set_time_scale, speed)
        time_scaled = True
        mirror = make_mirror(via, sim, astore)
        await mirror.start()
        say(f"  mirror:  {mirror.description}")
        if api and not stop.is_set():
            extras = await start_api(store, sim.plant_with_endpoints(), sim.endpoints, host, port)
            if extras.api_server is not None and extras.api_server.started:
                urls.append(f"api http://{host}:{port}")
        if viewer and not stop.is_set():
            extras.stop_viewer = await asyncio.to_thread(start_viewer, store, host, port + 1, _viewer_note)
            if extras.stop_viewer is not None:
                say(f"  viewer:  http://{host}:{port + 1}/")
                urls.append(f"viewer http://{host}:{port + 1}/")
        if stop.is_set():
            return
        rows = await asyncio.to_thread(store.status)
        until = f"for {duration:g} s" if duration else "until Ctrl-C"
        say(f"ready in {time.monotonic() - t_start:.1f} s: " + ", ".join(urls) + f"; running {until}")
        say(f"running: {len(rows)} equipment live ({_state_counts(rows)}); Ctrl-C stops")

        async def beat(elapsed: float) -> None:
            rows = await asyncio.to_thread(store.status)
            live = sum(1 for r in rows if r.get("quality") == "good")
            hours = sim.sim.env.now / 3600
            say(f"[{elapsed:5.0f}s] sim t={hours:.2f} h, {live}/{len(rows)} live: {_state_counts(rows)}")

        await _wait(stop, duration, beat)
    finally:
        say("stopping ...")
        await extras.stop()
        if mirror is not None:
            await mirror.stop()
        await sim.stop()
        if time_scaled:  # a real plant fed into the same Redis later runs at 1x
            with contextlib.suppress(TwinError):
                await asyncio.to_thread(store.set_time_scale, 1.0)
        await astore.close()
        store.close()


@app.command()
def demo(
    ctx: typer.Context,
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
    port: int = typer.Option(8000, "--port", help="HTTP port of the API (the web viewer uses port + 1)."),
    duration: float = typer.Option(
        0.0,
        "--duration",
        help="Stop this many seconds after everything is up (the 'ready' line); 0: until Ctrl-C.",
    ),
    speed: float = typer.Option(60.0, "--speed", help="Simulated seconds per wall-clock second."),
    via: str = typer.Option("opcua", "--via", help="opcua (the real loop) or direct (no OPC UA)."),
    base_port: int = typer.Option(
        None, "--base-port", help="OPC UA ports base_port+i (default: free ports)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface for the API and viewer."),
    api: bool = typer.Option(True, "--api/--no-api", help="Serve the REST/WebSocket API."),
    viewer: bool = typer.Option(True, "--viewer/--no-viewer", help="Serve the 3D web viewer."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the simulation."),
    calendar: bool = typer.Option(
        False,
        "--calendar/--no-calendar",
        help="Follow the plant's shift calendar (simulated clock starts now, UTC): Off outside shifts.",
    ),
) -> None:
    """Everything in one command: Redis, simulated PLCs, OPC UA adapters, API and web viewer.

    Prints a 'ready' line with every URL once all is up; Ctrl-C or the end of --duration stops it all cleanly.
    """
    if via not in ("opcua", "direct"):
        fail(f"--via must be opcua or direct (got {via!r})")
    if speed <= 0:
        fail(f"--speed must be > 0 (got {speed})")
    if duration < 0:
        fail(f"--duration must be >= 0 (got {duration})")
    plant = load_plant(config)
    if api and not port_free(host, port):
        fail(f"port {port} on {host} is in use: pass --port N (or --no-api)")
    from twin.embedded import EmbeddedRedis

    url = settings(ctx).redis_url
    embedded: EmbeddedRedis | None = None
    try:
        if url is None:
            embedded = EmbeddedRedis(new_session=True).start()
            url = embedded.url
        store = TwinStore.from_url(url, plant.id)
        res = store.load_plant(plant, migrate=True)
        store.close()
        n_eq = len(plant.equipment())
        say(f"twin demo: plant {plant.id} ({n_eq} equipment on {len(plant.lines)} lines), {speed:g}x speed")
        kind = "embedded" if embedded is not None else "external"
        note = ", migrated" if res.get("migrated") else ""
        say(f"  redis:   {url} ({kind}{note})")
        asyncio.run(
            _run_demo(
                plant,
                url,
                speed=speed,
                port=port,
                host=host,
                duration=duration or None,
                via=via,
                base_port=base_port,
                api=api,
                viewer=viewer,
                seed=seed,
                calendar=calendar,
            )
        )
    except KeyboardInterrupt:  # Ctrl-C before the event loop's handler was installed (or after it)
        say("interrupted")
    finally:
        if embedded is not None:
            embedded.stop()
    say("stopped")


@app.command()
def sim(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
    speed: float = typer.Option(60.0, "--speed", help="Simulated seconds per wall-clock second."),
    base_port: int = typer.Option(
        None, "--base-port", help="Serve line i on port base_port+i (default: the config's endpoints)."
    ),
    duration: float = typer.Option(
        0.0, "--duration", help="Stop this many seconds after the servers are up (0: until Ctrl-C)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of the simulation."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface for --base-port endpoints (0.0.0.0: all)."
    ),
    calendar: bool = typer.Option(
        False,
        "--calendar/--no-calendar",
        help="Follow the plant's shift calendar (simulated clock starts now, UTC): Off outside shifts.",
    ),
    security: str = typer.Option(
        "none", "--security", help="none, sign or sign-encrypt (Basic256Sha256; needs --trusted-clients)."
    ),
    cert: Path = typer.Option(
        None, "--cert", help="Server certificate (DER); default: one generated at start in a temp dir."
    ),
    key: Path = typer.Option(None, "--key", help="Private key (PEM) of --cert."),
    trusted_clients: list[Path] = typer.Option(
        [], "--trusted-clients", help="Directory (or file) of client certificates accepted; repeatable."
    ),
    user: list[str] = typer.Option(
        [],
        "--user",
        help="Account NAME:PASSWORD[:ROLE] (role reader, writer (default: may call plan.Load) or admin); "
        "repeatable. With accounts, anonymous logins are refused.",
    ),
) -> None:
    """Run the simulated PLCs of a plant (one OPC UA server per line) until Ctrl-C."""
    import tempfile

    from adapters.simulator.plant import SimulatorError
    from adapters.simulator.secure import sim_security

    if speed <= 0:
        fail(f"--speed must be > 0 (got {speed})")
    if duration < 0:
        fail(f"--duration must be >= 0 (got {duration})")
    plant = load_plant(config)
    with tempfile.TemporaryDirectory(prefix="sdf-twin-sim-") as tmp:  # generated keys die with the run
        try:
            sec = sim_security(
                security, cert=cert, key=key, trusted_clients=trusted_clients, users=user, workdir=Path(tmp)
            )
        except SimulatorError as exc:
            fail(str(exc))
        if sec.certificate is not None:
            origin = "generated for this run" if sec.generated else "given"
            say(f"server certificate ({origin}; clients must trust it): {sec.certificate}")
        asyncio.run(
            _run_sim(
                plant,
                speed=speed,
                base_port=base_port,
                duration=duration or None,
                seed=seed,
                host=host,
                security=sec.server,
                calendar=calendar,
            )
        )
    say("stopped")


def sim_options(calendar: bool) -> Any:
    """The live simulator's options: sequences repeat; with ``calendar`` the simulated clock starts now."""
    from twin.sim import SimOptions

    return SimOptions(
        repeat_sequence=True, calendar=calendar, calendar_origin=time.time() if calendar else None
    )


async def _run_sim(
    plant: Plant,
    *,
    speed: float,
    base_port: int | None,
    duration: float | None,
    seed: int,
    host: str,
    security: Any = None,
    calendar: bool = False,
) -> None:
    from adapters.simulator import SimulatedPlant

    stop = asyncio.Event()
    _install_stop(stop)
    sim = SimulatedPlant(
        plant,
        speed=speed,
        base_port=base_port,
        seed=seed,
        host=host,
        security=security,
        options=sim_options(calendar),
    )
    try:
        t0 = time.monotonic()
        await sim.start()
        say(f"simulated PLCs of plant {plant.id}, {speed:g}x speed:")
        for line_id, url in sim.endpoints.items():
            say(f"  {line_id}: {url}")
        say(f"ready in {time.monotonic() - t0:.1f} s: {len(sim.endpoints)} OPC UA servers; Ctrl-C stops")

        async def beat(elapsed: float) -> None:
            counts = Counter(v["state"] for v in sim.snapshot().values())
            say(
                f"[{elapsed:5.0f}s] sim t={sim.sim.env.now / 3600:.2f} h: "
                + ", ".join(f"{k} {n}" for k, n in counts.most_common())
            )

        await _wait(stop, duration, beat)
    finally:
        await sim.stop()

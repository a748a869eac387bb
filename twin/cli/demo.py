"""``twin demo``: the whole loop in one command, up in seconds and stopped cleanly.

It wires the real loop: simulated PLCs (asyncua servers driven by the SimPy flow model) -> OPC UA adapters
(subscriptions) -> the twin in Redis, plus the API and the web viewer. ``--via direct`` skips OPC UA
(simulator changes written straight to Redis), for debugging. The parts live in :mod:`twin.cli.demoparts`;
this module orders their start, prints the URLs and stops everything on Ctrl-C or after ``--duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from twin.cli import app
from twin.cli.archive import data_dir_option, local_data_dir, start_archive_thread
from twin.cli.common import DEFAULT_CONFIG, fail, settings, start_viewer
from twin.cli.demoparts import (
    Extras,
    Mirror,
    install_stop,
    make_mirror,
    quiet_session_notes,
    say,
    sim_options,
    start_api,
    state_counts,
    wait_until,
)
from twin.config import load_plant
from twin.embedded import EmbeddedRedis, port_free
from twin.errors import TwinError
from twin.model import Plant
from twin.store import AsyncTwinStore, TwinStore

if TYPE_CHECKING:
    from adapters.simulator import SimulatedPlant

__all__ = ["DemoOptions", "demo"]


@dataclass(frozen=True)
class DemoOptions:
    """The demo's command-line choices, checked by :func:`demo`."""

    speed: float
    port: int
    host: str
    duration: float | None
    via: str
    base_port: int | None
    api: bool
    viewer: bool
    seed: int
    calendar: bool = False
    #: Archive root (directory or fsspec URL); None: no archive.
    data_dir: str | None = None


@dataclass
class _DemoRun:
    """One demo run: the stores, the simulated plant and what was started (so that all of it is stopped)."""

    plant: Plant
    redis_url: str
    opts: DemoOptions
    store: TwinStore = field(init=False)
    astore: AsyncTwinStore = field(init=False)
    sim: SimulatedPlant = field(init=False)
    mirror: Mirror | None = None
    time_scaled: bool = False
    extras: Extras = field(default_factory=Extras)
    stop_archive: Callable[[], Any] | None = None
    urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from adapters.simulator import SimulatedPlant

        plant, url, o = self.plant, self.redis_url, self.opts
        self.store = TwinStore.from_url(url, plant.id)
        self.astore = AsyncTwinStore.from_url(url, plant.id, {e.id: e.line for e in plant.equipment()})
        self.sim = SimulatedPlant(
            plant,
            speed=o.speed,
            base_port=o.base_port,
            use_config_endpoints=False,
            seed=o.seed,
            options=sim_options(o.calendar),
        )
        self.urls.append(f"redis {url}")

    async def start(self, stop: asyncio.Event) -> bool:
        """Start every part in order; False if Ctrl-C came during start-up (the rest is skipped)."""
        await self.sim.start()
        for line_id, url in self.sim.endpoints.items():
            say(f"  opc ua:  {line_id} {url}")
            self.urls.append(f"{line_id} {url}")
        if stop.is_set():
            return False
        # The PLCs serve on free ports, not the config's: the twin records where they really are, so that
        # `twin replan` (or any other tool) started from another shell dispatches to these servers.
        await asyncio.to_thread(self.store.load_plant, self.sim.plant_with_endpoints(), migrate=True)
        # Rates the viewer shows (cars/h) are per plant hour: it divides wall-clock rates by this.
        await asyncio.to_thread(self.store.set_time_scale, self.opts.speed)
        self.time_scaled = True
        self.mirror = make_mirror(self.opts.via, self.sim, self.astore)
        await self.mirror.start()
        say(f"  mirror:  {self.mirror.description}")
        if self.opts.data_dir is not None and not stop.is_set():
            self.stop_archive = start_archive_thread(self.redis_url, self.plant.id, self.opts.data_dir)
            say(f"  archive: {self.opts.data_dir} (every change, Parquet; `twin kpi --data-dir ...`)")
            self.urls.append(f"archive {self.opts.data_dir}")
        if self.opts.api and not stop.is_set():
            await self._start_api()
        if self.opts.viewer and not stop.is_set():
            await self._start_viewer()
        return not stop.is_set()

    async def _start_api(self) -> None:
        host, port = self.opts.host, self.opts.port
        self.extras = await start_api(
            self.store, self.sim.plant_with_endpoints(), self.sim.endpoints, host, port, self.opts.data_dir
        )
        if self.extras.api_server is not None and self.extras.api_server.started:
            self.urls.append(f"api http://{host}:{port}")

    async def _start_viewer(self) -> None:
        host, port = self.opts.host, self.opts.port + 1
        self.extras.stop_viewer = await asyncio.to_thread(start_viewer, self.store, host, port, _viewer_note)
        if self.extras.stop_viewer is not None:
            say(f"  viewer:  http://{host}:{port}/")
            self.urls.append(f"viewer http://{host}:{port}/")

    async def announce(self, t_start: float) -> None:
        """The 'ready' line with every URL, then what is live."""
        rows = await asyncio.to_thread(self.store.status)
        duration = self.opts.duration
        until = f"for {duration:g} s" if duration else "until Ctrl-C"
        say(f"ready in {time.monotonic() - t_start:.1f} s: " + ", ".join(self.urls) + f"; running {until}")
        say(f"running: {len(rows)} equipment live ({state_counts(rows)}); Ctrl-C stops")

    async def beat(self, elapsed: float) -> None:
        """The heartbeat line: simulated time and equipment live by state."""
        rows = await asyncio.to_thread(self.store.status)
        live = sum(1 for r in rows if r.get("quality") == "good")
        hours = self.sim.sim.env.now / 3600
        say(f"[{elapsed:5.0f}s] sim t={hours:.2f} h, {live}/{len(rows)} live: {state_counts(rows)}")

    async def stop(self) -> None:
        """Stop what was started, last first, and close the stores."""
        await self.extras.stop()
        if self.mirror is not None:
            await self.mirror.stop()
        if self.stop_archive is not None:  # after the mirror: the last changes are archived too
            await asyncio.to_thread(self.stop_archive)
        await self.sim.stop()
        if self.time_scaled:  # a real plant fed into the same Redis later runs at 1x
            with contextlib.suppress(TwinError):
                await asyncio.to_thread(self.store.set_time_scale, 1.0)
        await self.astore.close()
        self.store.close()


def _viewer_note(text: str) -> None:
    say(f"  viewer:  {text}")


async def _run_demo(plant: Plant, redis_url: str, opts: DemoOptions) -> None:
    t_start = time.monotonic()
    quiet_session_notes()
    stop = asyncio.Event()
    install_stop(stop)
    run = _DemoRun(plant, redis_url, opts)
    try:
        # Ctrl-C during start-up sets `stop`: each phase is finished, the rest skipped, all cleaned up.
        if await run.start(stop):
            await run.announce(t_start)
            await wait_until(stop, opts.duration, run.beat)
    finally:
        say("stopping ...")
        await run.stop()


def _check_options(via: str, speed: float, duration: float) -> None:
    if via not in ("opcua", "direct"):
        fail(f"--via must be opcua or direct (got {via!r})")
    if speed <= 0:
        fail(f"--speed must be > 0 (got {speed})")
    if duration < 0:
        fail(f"--duration must be >= 0 (got {duration})")


def _load_twin(url: str, plant: Plant, embedded: bool, speed: float) -> None:
    """Load the plant into Redis and print what runs where."""
    store = TwinStore.from_url(url, plant.id)
    res = store.load_plant(plant, migrate=True)
    store.close()
    n_eq = len(plant.equipment())
    say(f"twin demo: plant {plant.id} ({n_eq} equipment on {len(plant.lines)} lines), {speed:g}x speed")
    kind = "embedded" if embedded else "external"
    note = ", migrated" if res.get("migrated") else ""
    say(f"  redis:   {url} ({kind}{note})")


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
    data_dir: str = data_dir_option(),
    archive: bool = typer.Option(
        True, "--archive/--no-archive", help="Archive every change under --data-dir."
    ),
) -> None:
    """Everything in one command: Redis, simulated PLCs, OPC UA adapters, archive, API and web viewer.

    Prints a 'ready' line with every URL once all is up; Ctrl-C or the end of --duration stops it all cleanly.
    """
    _check_options(via, speed, duration)
    opts = DemoOptions(
        speed=speed, port=port, host=host, duration=duration or None, via=via, base_port=base_port,
        api=api, viewer=viewer, seed=seed, calendar=calendar,
        data_dir=local_data_dir(data_dir) if archive else None,
    )  # fmt: skip
    plant = load_plant(config)
    if api and not port_free(host, port):
        fail(f"port {port} on {host} is in use: pass --port N (or --no-api)")
    url = settings(ctx).redis_url
    embedded: EmbeddedRedis | None = None
    try:
        if url is None:
            embedded = EmbeddedRedis(new_session=True).start()
            url = embedded.url
        _load_twin(url, plant, embedded is not None, speed)
        asyncio.run(_run_demo(plant, url, opts))
    except KeyboardInterrupt:  # Ctrl-C before the event loop's handler was installed (or after it)
        say("interrupted")
    finally:
        if embedded is not None:
            embedded.stop()
    say("stopped")

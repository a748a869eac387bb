"""The parts ``twin demo`` and ``twin sim`` start and stop, and the run loop they share.

A :class:`Mirror` carries simulator values into the twin (the real OPC UA path or a direct shortcut);
:func:`start_api` serves the API in the demo's event loop; :func:`wait_until` runs until Ctrl-C or the end
of ``--duration`` with a heartbeat line every 10 s. Part of the composition root: ``adapters`` is imported
inside the functions that use it, so the CLI starts fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twin.kpi import state_name
from twin.model import Plant
from twin.store import AsyncTwinStore, TwinStore

__all__ = [
    "DirectMirror",
    "Extras",
    "Mirror",
    "OpcUaMirror",
    "install_stop",
    "make_mirror",
    "quiet_session_notes",
    "say",
    "sim_options",
    "start_api",
    "state_counts",
    "wait_until",
]


def say(text: str) -> None:
    """One line to stdout, flushed at once (tests and users read it live)."""
    print(text, flush=True)


class _QuietSessionNotes(logging.Filter):
    """Drops asyncua's per-connection note that the server granted a shorter session timeout."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Requested session timeout")


def quiet_session_notes() -> None:
    """Silence asyncua's session-timeout note (once per process: the filter is added only once)."""
    client_log = logging.getLogger("asyncua.client.client")
    if not any(isinstance(f, _QuietSessionNotes) for f in client_log.filters):
        client_log.addFilter(_QuietSessionNotes())


def sim_options(calendar: bool) -> Any:
    """The live simulator's options: sequences repeat; with ``calendar`` the simulated clock starts now."""
    from twin.sim import SimOptions

    return SimOptions(
        repeat_sequence=True, calendar=calendar, calendar_origin=time.time() if calendar else None
    )


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
    """``opcua``: the OPC UA adapters on the simulator's endpoints; ``direct``: simulator -> Redis."""
    if via == "opcua":
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


def _demo_api(
    store: TwinStore, plant: Plant, endpoints: dict[str, str], data_dir: str | None
) -> tuple[Any, str]:
    """The API app with a fresh admin token (returned, to print), re-planning and OPC UA write-back."""
    from adapters.opcua.writeback import PlanWriter
    from twin.api import create_app
    from twin.api.auth import Role, new_token, parse_tokens
    from twin.api.wiring import scheduler_wiring
    from twin.cli.serve import api_settings

    token, line = new_token(Role.ADMIN, "demo-admin")
    cfg = api_settings(None, None)
    cfg.tokens = parse_tokens(line)
    write = PlanWriter(plant, store, None, actor="api", endpoints=endpoints)
    wiring = scheduler_wiring(store, write)
    for note in wiring.notes:
        say(f"  note: {note}")
    archive = None
    if data_dir is not None:
        from twin.archive import ArchiveFs
        from twin.archive.reader import ArchiveReader

        archive = ArchiveReader(ArchiveFs(data_dir), plant.id)
    app = create_app(
        store,
        cfg,
        replan=wiring.replan,
        propose=wiring.propose,
        dispatch=wiring.dispatch,
        diff=wiring.diff,
        archive=archive,
    )
    return app, token


async def start_api(
    store: TwinStore,
    plant: Plant,
    endpoints: dict[str, str],
    host: str,
    port: int,
    data_dir: str | None = None,
) -> Extras:
    """Serve the API (:func:`twin.api.create_app`) in this event loop; print how to reach it."""
    import uvicorn

    api, token = _demo_api(store, plant, endpoints, data_dir)

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:  # the demo handles Ctrl-C itself
            yield

    server = _Server(uvicorn.Config(api, host=host, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(), name="api")
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if server.started:
        say(f"  api:     http://{host}:{port}  (docs http://{host}:{port}/docs)  admin token: {token}")
        # The token rides in the fragment: browsers never send it to the server, the console drops it from
        # the address bar and keeps it for the tab only.
        say(f"  console: http://{host}:{port}/#token={token}")
    else:
        say(f"  api:     did not start on {host}:{port}")
    return Extras(api_server=server, api_task=task)


# ------------------------------------------------------------------------------------------ running
def install_stop(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (the run then cleans up and returns)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def wait_until(
    stop: asyncio.Event, duration: float | None, beat: Callable[[float], Awaitable[Any]] | None
) -> None:
    """Return when ``stop`` is set or ``duration`` seconds have passed; ``beat(elapsed)`` every 10 s."""
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


def state_counts(rows: Sequence[dict[str, Any]]) -> str:
    """``running 12, idle 3``: equipment per state, most common first."""
    counts = Counter(state_name(r.get("state")) or "-" for r in rows)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))

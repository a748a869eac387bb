"""The simulated plant: the SimPy flow model in scaled real time behind one asyncua server per line.

``async with SimulatedPlant(plant, speed=60) as sim: sim.endpoints`` starts the servers, loads the default
plan (demand split over the lines that can build each model, repeated so the demo never runs dry) and
advances the model in slices paced against the wall clock (``publish_interval_s``); each slice's changes are
written into the servers' address spaces as one batch (and handed to ``on_change`` listeners).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from asyncua.server.server import Server

from adapters.errors import AdapterError
from adapters.opcua.security import ServerSecurity
from adapters.simulator.server import LineServer, build_line_server
from adapters.simulator.startup import warm_cache
from twin.embedded import free_port, port_free
from twin.errors import TwinError
from twin.model import SIM_NAMESPACE_URI, Line, OpcUaEndpoint, PlanAssignment, Plant
from twin.sim import ChangeTuple, FlowSim, SimOptions, default_plan

log = logging.getLogger(__name__)


class SimulatorError(AdapterError):
    """The simulated plant could not start (port in use, bad endpoint)."""


def _namespace(line: Line) -> str:
    return line.opcua.namespace_uri if line.opcua is not None else SIM_NAMESPACE_URI


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if parsed.scheme != "opc.tcp" or parsed.port is None:
        raise SimulatorError(f"endpoint {url!r} is not opc.tcp://HOST:PORT/...")
    return parsed.hostname or "0.0.0.0", parsed.port


def endpoint_url(line_id: str, port: int, host: str = "127.0.0.1") -> str:
    """The endpoint a simulated PLC gets when the config does not fix one."""
    return f"opc.tcp://{host}:{port}/sdf-twin/{line_id}"


class SimulatedPlant:
    """Simulated PLCs of a whole plant (one asyncua server per line), driven by :class:`FlowSim`.

    Endpoints: ``ports[line]`` if given, else ``base_port + line index``, else the line's configured
    ``opcua.endpoint`` (unless ``use_config_endpoints`` is False), else a free port; generated endpoints
    listen on ``host``.
    """

    def __init__(
        self,
        plant: Plant,
        *,
        speed: float = 60.0,
        ports: Mapping[str, int] | None = None,
        base_port: int | None = None,
        use_config_endpoints: bool = True,
        seed: int = 0,
        options: SimOptions | None = None,
        publish_interval_s: float = 0.1,
        security: ServerSecurity | Mapping[str, ServerSecurity] | None = None,
        on_change: Sequence[Callable[[list[ChangeTuple]], Any]] = (),
        initial_plan: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        if speed <= 0:
            raise SimulatorError(f"speed must be > 0 (got {speed})")
        self.plant = plant
        self.speed = speed
        self.publish_interval_s = publish_interval_s
        self.security = security
        self.listeners = list(on_change)
        self.initial_plan = initial_plan
        self.endpoints: dict[str, str] = {}
        for i, line in enumerate(plant.lines):
            if ports and line.id in ports:
                self.endpoints[line.id] = endpoint_url(line.id, ports[line.id], host)
            elif base_port is not None:
                self.endpoints[line.id] = endpoint_url(line.id, base_port + i, host)
            elif use_config_endpoints and line.opcua is not None:
                self.endpoints[line.id] = line.opcua.endpoint
            else:
                self.endpoints[line.id] = endpoint_url(line.id, free_port(), host)
        opts = options or SimOptions(repeat_sequence=True)
        self._wall0 = time.time()
        self._sim0 = 0.0
        self.sim = FlowSim(plant, seed=seed, options=opts, on_change=self._collect, clock=self._source_ts)
        self.servers: dict[str, LineServer] = {}
        self._batch: list[ChangeTuple] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.batches = 0
        self.values_written = 0
        self._line_of = {e.id: line.id for line in plant.lines for e in line.equipment}

    # -- clock --------------------------------------------------------------------------------------
    def _source_ts(self, sim_t: float) -> float:
        return self._wall0 + (sim_t - self._sim0) / self.speed

    def sim_time_now(self) -> float:
        """The simulation time that corresponds to the wall clock now."""
        return self._sim0 + (time.time() - self._wall0) * self.speed

    def _collect(self, batch: list[ChangeTuple]) -> None:
        self._batch.extend(batch)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> SimulatedPlant:
        """Start every server, publish initial values and start the pacing loop."""
        for line_id, url in self.endpoints.items():  # fail fast, in one line, before any server is built
            host, port = _host_port(url)
            if not port_free(host, port):
                raise SimulatorError(f"port {port} for line {line_id} ({url}) is in use: choose other ports")
        try:
            # The first start on a machine builds the cached standard address space (one server's init);
            # then every server loads it lazily (~0.2 s instead of 2-10 s) and they are built together.
            first = await warm_cache()
            built = await asyncio.gather(
                *(self._build(line, first if i == 0 else None) for i, line in enumerate(self.plant.lines)),
                return_exceptions=True,
            )
            errors = [b for b in built if isinstance(b, BaseException)]
            for b in built:
                if isinstance(b, LineServer):
                    self.servers[b.line_id] = b
            if errors:
                raise errors[0]
        except (OSError, RuntimeError) as exc:
            await self.stop()
            raise SimulatorError(f"cannot start simulated PLCs: {exc}") from exc
        except TwinError:
            await self.stop()
            raise
        if self.initial_plan:
            self.sim.follow(default_plan(self.plant, lot=self.sim.options.default_lot))
        self._wall0 = time.time()
        self._sim0 = self.sim.env.now
        await self._publish(self.sim.advance(self._sim0))
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="sdf-sim-pacer")
        return self

    async def _build(self, line: Line, server: Server | None) -> LineServer:
        sec = self.security.get(line.id) if isinstance(self.security, Mapping) else self.security
        return await build_line_server(
            line,
            self.endpoints[line.id],
            loader=self._load,
            security=sec,
            namespace_uri=_namespace(line),
            server=server,
        )

    async def stop(self) -> None:
        """Stop the pacing loop and every server."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        servers = list(self.servers.values())
        self.servers.clear()
        # asyncua's stop waits ~1 s per server: stop them together.
        await asyncio.gather(*(ls.stop() for ls in servers), return_exceptions=True)

    async def __aenter__(self) -> SimulatedPlant:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def plant_with_endpoints(self) -> Plant:
        """A copy of the plant whose lines point at these servers (for an adapter to mirror them)."""
        p = self.plant.model_copy(deep=True)
        for line in p.lines:
            line.opcua = OpcUaEndpoint(endpoint=self.endpoints[line.id], namespace_uri=_namespace(line))
        return p

    # -- pacing -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        interval = self.publish_interval_s
        while not self._stop.is_set():
            await asyncio.sleep(interval)
            try:
                changes = self.sim.advance(self.sim_time_now())
                await self._publish(changes)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad slice must not stop the PLCs; it is logged
                log.exception("simulation slice failed")

    async def _publish(self, _flushed: list[ChangeTuple]) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        by_line: dict[str, list[ChangeTuple]] = {}
        line_of = self._line_of
        for c in batch:
            by_line.setdefault(line_of[c[0]], []).append(c)
        for line_id, changes in by_line.items():
            ls = self.servers.get(line_id)
            if ls is not None:
                self.values_written += await ls.write(changes)
        self.batches += 1
        for listener in self.listeners:
            res = listener(batch)
            if asyncio.iscoroutine(res):
                await res

    # -- plans --------------------------------------------------------------------------------------
    async def _load(self, line_id: str, version: int, items: list[dict[str, Any]]) -> str | None:
        """Validate a line's plan and make the model follow it; returns a rejection reason or None."""
        try:
            assignments = [PlanAssignment(**it) for it in items]
            for a in assignments:
                if self.sim.group_of(a.resource) != line_id:
                    return f"resource {a.resource!r} is not on line {line_id!r}"
            self.sim.advance(self.sim_time_now())  # load at the present moment
            # The earliest lot starts at once; the others keep their planned offsets from it. A loaded
            # plan is run once (only the initial default plan repeats, to keep an unplanned demo busy).
            first = min((a.start_s for a in assignments), default=0.0)
            self.sim.load_plan(assignments, lines=[line_id], offset_s=self.sim.env.now - first, repeat=False)
        except TwinError as exc:
            return str(exc)
        log.info("line %s follows plan v%d (%d lots)", line_id, version, len(assignments))
        return None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Current simulated values per equipment."""
        return self.sim.snapshot()

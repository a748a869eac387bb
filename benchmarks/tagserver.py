"""Small real asyncua servers for tests, interop checks and the ingest benchmark's load source.

Not a simulator (that is :mod:`adapters.simulator`): a server that serves a list of tags at the simulator's
default NodeIds (``nsu=urn:sdf-twin:sim;s=<equipment>.<tag>``), one folder per equipment, optionally a plan
write-back object per line (``s=<line>.plan`` with ``version``, ``sequence`` and ``Load``), and that can
change values at a given rate. ``python -m benchmarks.tagserver --port P --config FILE`` runs one in its
own process (the kill/restart tests SIGKILL it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua, uamethod
from asyncua.common.structures104 import new_enum

from adapters.opcua.security import ServerSecurity, apply_server_security
from adapters.opcua.variants import VARIANT_TYPES, initial_variant
from twin.embedded import wait_ready_line
from twin.model import SIM_NAMESPACE_URI, Plant, StationState, TagType

__all__ = ["Rate", "ServerProcess", "TagServer", "build_server", "churn", "main", "plant_tags", "serve"]


@dataclass
class TagServer:
    """A running test server and its variables by ``(equipment, tag)``."""

    server: Server
    url: str
    ns: int
    nodes: dict[tuple[str, str], Any] = field(default_factory=dict)
    types: dict[tuple[str, str], TagType] = field(default_factory=dict)
    plan_loads: list[tuple[str, int, str]] = field(default_factory=list)

    async def write(
        self,
        equipment: str,
        tag: str,
        value: Any,
        status: int = ua.StatusCodes.Good,
        variant: ua.VariantType | None = None,
    ) -> None:
        """Set a value (with a StatusCode and now as source timestamp), as a PLC would."""
        key = (equipment, tag)
        vt = variant or VARIANT_TYPES[self.types[key]]
        now = datetime.now(UTC)
        dv = ua.DataValue(
            ua.Variant(value, vt), StatusCode=ua.StatusCode(status), SourceTimestamp=now, ServerTimestamp=now
        )
        if variant is not None and variant != VARIANT_TYPES[self.types[key]]:
            await self._write_unchecked(self.nodes[key].nodeid, dv)
        else:
            await self.server.write_attribute_value(self.nodes[key].nodeid, dv)

    async def _write_unchecked(self, nodeid: ua.NodeId, dv: ua.DataValue) -> None:
        """Store a value of the wrong type (asyncua's server refuses that): a misbehaving PLC."""
        attval = self.server.iserver.aspace._nodes[nodeid].attributes[ua.AttributeIds.Value]
        attval.value = dv
        attval.value_callback = None
        for handle, callback in list(attval.datachange_callbacks.items()):
            await callback(handle, dv)


def plant_tags(plant: Plant, line: str | None = None) -> list[tuple[str, str, TagType, str | None]]:
    """``(equipment, tag, type, unit)`` of a plant's (or one line's) tags."""
    return [
        (e.id, t.name, t.type, t.unit)
        for ln in plant.lines
        if line is None or ln.id == line
        for e in ln.equipment
        for t in e.tags()
    ]


async def build_server(
    port: int,
    tags: Sequence[tuple[str, str, TagType] | tuple[str, str, TagType, str | None]],
    *,
    plan_lines: Sequence[str] = (),
    security: ServerSecurity | None = None,
    namespace_uri: str = SIM_NAMESPACE_URI,
) -> TagServer:
    """Create and start a server on 127.0.0.1:``port`` serving ``tags`` (and plan objects for lines)."""
    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{port}/sdf/"
    server.set_endpoint(url)
    server.set_server_name("sdf-twin test PLC")
    if security is not None:
        await apply_server_security(server, security)
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(namespace_uri)
    ts = TagServer(server, url, ns)
    objects = server.nodes.objects
    folders: dict[str, Any] = {}
    state_type = None
    if any(t[2] is TagType.ENUM for t in tags):
        names = [s.value for s in StationState]
        state_type = await new_enum(server, ua.NodeId("sdf.StationState", ns), "StationState", names)
    for eq, tag, ttype, *rest in tags:
        folder = folders.get(eq)
        if folder is None:
            folder = folders[eq] = await objects.add_folder(ua.NodeId(eq, ns), ua.QualifiedName(eq, ns))
        node = await folder.add_variable(
            ua.NodeId(f"{eq}.{tag}", ns),
            ua.QualifiedName(tag, ns),
            initial_variant(ttype),
            datatype=state_type.nodeid if ttype is TagType.ENUM and state_type is not None else None,
        )
        unit = rest[0] if rest else None
        if unit:
            eu = ua.EUInformation()
            eu.DisplayName = ua.LocalizedText(unit)
            eu.Description = ua.LocalizedText(unit)
            await node.add_property(
                ua.NodeId(f"{eq}.{tag}.EngineeringUnits", ns),
                ua.QualifiedName("EngineeringUnits", 0),
                ua.Variant(eu, ua.VariantType.ExtensionObject),
            )
        ts.nodes[(eq, tag)] = node
        ts.types[(eq, tag)] = ttype
    for line in plan_lines:
        await _add_plan_object(ts, line)
    await server.start()
    return ts


async def _add_plan_object(ts: TagServer, line: str) -> None:
    ns = ts.ns
    obj = await ts.server.nodes.objects.add_object(
        ua.NodeId(f"{line}.plan", ns), ua.QualifiedName("plan", ns)
    )
    version = await obj.add_variable(
        ua.NodeId(f"{line}.plan.version", ns),
        ua.QualifiedName("version", ns),
        ua.Variant(0, ua.VariantType.Int64),
    )
    sequence = await obj.add_variable(
        ua.NodeId(f"{line}.plan.sequence", ns),
        ua.QualifiedName("sequence", ns),
        ua.Variant("[]", ua.VariantType.String),
    )

    @uamethod  # type: ignore[untyped-decorator]
    async def load(_parent: Any, v: int, seq: str) -> str:
        try:
            json.loads(seq)
        except ValueError:
            return "rejected: sequence is not JSON"
        cur = await version.read_value()
        if v <= cur:
            return f"rejected: version {v} is not newer than the loaded version {cur}"
        await sequence.write_value(ua.Variant(seq, ua.VariantType.String))
        await version.write_value(ua.Variant(v, ua.VariantType.Int64))
        ts.plan_loads.append((line, v, seq))
        return "accepted"

    await obj.add_method(
        ua.NodeId(f"{line}.plan.Load", ns),
        ua.QualifiedName("Load", ns),
        load,
        [ua.VariantType.Int64, ua.VariantType.String],
        [ua.VariantType.String],
    )


@asynccontextmanager
async def serve(port: int, tags: Sequence[Any], **kw: Any) -> AsyncIterator[TagServer]:
    """:func:`build_server` as a context manager that always stops the server."""
    ts = await build_server(port, tags, **kw)
    try:
        yield ts
    finally:
        with contextlib.suppress(Exception):
            await ts.server.stop()


def _next_value(ttype: TagType, i: int) -> Any:
    if ttype is TagType.FLOAT:
        return float(i) + random.random()
    if ttype is TagType.INT:
        return i
    if ttype is TagType.BOOL:
        return bool(i % 2)
    if ttype is TagType.ENUM:
        return i % 7
    return f"v{i}"


@dataclass
class Rate:
    """A changeable churn rate (changes per second in total; 0 pauses)."""

    per_s: float


async def churn(ts: TagServer, rate: Rate, start: int = 1, stop: asyncio.Event | None = None) -> None:
    """Change every tag round-robin at ``rate.per_s`` changes per second in total, until ``stop``."""
    keys = list(ts.nodes)
    i = start
    step = 0.01
    next_t = time.monotonic()
    while stop is None or not stop.is_set():
        if rate.per_s <= 0:
            await asyncio.sleep(step)
            next_t = time.monotonic()
            continue
        for _ in range(max(1, round(rate.per_s * step))):
            eq, tag = keys[i % len(keys)]
            await ts.write(eq, tag, _next_value(ts.types[(eq, tag)], i // len(keys) + start))
            i += 1
        next_t += step
        now = time.monotonic()
        if next_t < now - 1.0:  # behind by over a second (overload): do not try to catch up later
            next_t = now
        await asyncio.sleep(max(0.0, next_t - now))


async def _commands(rate: Rate) -> None:
    """Read ``rate N`` lines from stdin (the benchmark changes the load without a restart)."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        parts = line.split()
        if len(parts) == 2 and parts[0] == "rate":
            rate.per_s = float(parts[1])


async def _main(args: argparse.Namespace) -> None:
    from twin.config import load_plant

    plant = load_plant(Path(args.config))
    tags = plant_tags(plant, args.line)
    plan_lines = [ln.id for ln in plant.lines if args.line is None or ln.id == args.line]
    ts = await build_server(args.port, tags, plan_lines=plan_lines)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    for n, (eq, tag) in enumerate(ts.nodes):  # distinct initial values per start (the "generation")
        await ts.write(eq, tag, _next_value(ts.types[(eq, tag)], args.start + n))
    print(f"ready {ts.url}", flush=True)
    rate = Rate(args.rate)
    reader = asyncio.create_task(_commands(rate))
    try:
        await churn(ts, rate, start=args.start, stop=stop)
    finally:
        reader.cancel()
        await ts.server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run a test server in this process until SIGTERM."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--line", default=None)
    p.add_argument("--rate", type=float, default=0.0, help="changes per second (0: static)")
    p.add_argument("--start", type=int, default=1, help="first value (distinguishes restarts)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_main(args))


class ServerProcess:
    """A test server in its own process (``python -m benchmarks.tagserver``), to be killed and restarted."""

    def __init__(self, port: int, config: Path, line: str | None = None, rate: float = 0.0) -> None:
        self.port = port
        self.config = config
        self.line = line
        self.rate = rate
        self.proc: Any = None
        self.url = f"opc.tcp://127.0.0.1:{port}/sdf/"

    def start(self, start_value: int = 1, timeout: float = 30.0) -> None:
        """Start the process and wait until it serves."""
        import subprocess

        cmd = [
            sys.executable,
            "-m",
            "benchmarks.tagserver",
            "--port",
            str(self.port),
            "--config",
            str(self.config),
            "--rate",
            str(self.rate),
            "--start",
            str(start_value),
        ]
        if self.line:
            cmd += ["--line", self.line]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        if wait_ready_line(self.proc, timeout) is not None:
            return
        self.kill()
        raise RuntimeError(f"test server on port {self.port} did not start")

    def set_rate(self, per_s: float) -> None:
        """Change the churn rate of the running server."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"rate {per_s}\n")
        self.proc.stdin.flush()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL by default) and reap the process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
            for f in (self.proc.stdout, self.proc.stdin):
                if f:
                    with contextlib.suppress(OSError):
                        f.close()
            self.proc = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()


if __name__ == "__main__":
    main()

"""A simulated PLC for the fault suite: an asyncua server whose values follow a known, deterministic
sequence, and which logs every value it writes (so tests can check that nothing was lost).

    python -m tests.support.plc_server --plant FILE --line L1 --port P --log FILE [--period 0.3]

It serves every tag of every piece of equipment of one line at the simulator's default NodeIds
(``nsu=urn:sdf-twin:sim;s=<equipment>.<tag>``), typed like the tag. Each tick it increments
``part_count`` of every station (``energy_kwh = part_count / 2``, ``state`` cycles through the running
states) and appends ``<time> <equipment> <tag> <value>`` lines to the log, flushed before the values are
written to the address space. After a restart (e.g. kill -9) it resumes the counters from its own log,
so the sequence is monotonic across restarts. It prints ``READY <port>`` once it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from adapters.opcua.variants import INITIAL_VALUES, VARIANT_TYPES
from twin.config import load_plant
from twin.model import SIM_NAMESPACE_URI

__all__ = ["RUNNING_STATES", "main", "resume_counts", "serve", "zygote"]

RUNNING_STATES = (1, 2, 1, 3)  # Running, Blocked, Running, Starved: always a change


def resume_counts(log: Path) -> dict[str, int]:
    """The last part_count logged per equipment (0 when there is no log yet)."""
    counts: dict[str, int] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] == "part_count":
                counts[parts[1]] = int(parts[3])
    return counts


async def serve(args: argparse.Namespace) -> None:
    plant = load_plant(args.plant)
    line = next(li for li in plant.lines if li.id == args.line)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{args.port}/")
    server.set_server_name(f"fault-plc {line.id}")
    ns = await server.register_namespace(SIM_NAMESPACE_URI)
    nodes: dict[tuple[str, str], Any] = {}
    types: dict[tuple[str, str], ua.VariantType] = {}
    for equipment in line.equipment:
        obj = await server.nodes.objects.add_object(
            ua.NodeId(equipment.id, ns), ua.QualifiedName(equipment.id, ns)
        )
        for tdef in equipment.tags():
            vt, initial = VARIANT_TYPES[tdef.type], INITIAL_VALUES[tdef.type]
            nid = ua.NodeId(f"{equipment.id}.{tdef.name}", ns)
            key = (equipment.id, tdef.name)
            nodes[key] = await obj.add_variable(nid, ua.QualifiedName(tdef.name, ns), initial, vt)
            types[key] = vt
    stations = [e.id for e in line.equipment if (e.id, "part_count") in nodes]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if args.zygote:  # a warm spare: address space built, serves (binds the port) on SIGUSR1
        go = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, go.set)
        print(f"SPARE {os.getpid()}", flush=True)
        parent = os.getppid()
        while not go.is_set():
            if os.getppid() != parent:
                return  # the zygote is gone: never serve as an orphan
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(go.wait(), 0.5)
    counts = {eq: 0 for eq in stations} | resume_counts(args.log)  # resume where the last process stopped
    async with server:
        print(f"READY {args.port}", flush=True)
        fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            parent = os.getppid()
            while not stop.is_set() and os.getppid() == parent:  # never outlive the test that started us
                now = time.time()
                lines, writes = [], []
                for eq in stations:
                    counts[eq] += 1
                    n = counts[eq]
                    vals = {"part_count": n, "energy_kwh": n / 2, "state": RUNNING_STATES[n % 4]}
                    for tag, v in vals.items():
                        if (eq, tag) in nodes:
                            lines.append(f"{now:.3f} {eq} {tag} {v}\n")
                            writes.append((nodes[(eq, tag)], v, types[(eq, tag)]))
                os.write(fd, "".join(lines).encode())  # logged before it can be seen
                stamp = datetime.now(UTC)
                for node, v, vt in writes:
                    await node.write_value(ua.DataValue(ua.Variant(v, vt), SourceTimestamp=stamp))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.period)
        finally:
            os.close(fd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--plant", type=Path, required=True)
    p.add_argument("--line", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--period", type=float, default=0.3)
    p.add_argument("--zygote", action="store_true", help="fork a new server process per 'fork' line on stdin")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.zygote:
        zygote(args)
    else:
        asyncio.run(serve(args))


def zygote(args: argparse.Namespace) -> None:
    """Imports done once; every ``fork`` line on stdin forks a fresh server process that builds its
    address space, prints ``SPARE <pid>`` and serves on SIGUSR1 (a PLC restart that costs no interpreter
    start-up). Children are reaped automatically; on EOF (the test is gone) every child is killed."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # auto-reap killed children
    children: list[int] = []

    def end(_sig: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, end)
    print("ZYGOTE", flush=True)
    for line in sys.stdin:
        if line.strip() != "fork":
            continue
        pid = os.fork()
        if pid == 0:  # the child: a brand-new server process
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                asyncio.run(serve(args))
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()

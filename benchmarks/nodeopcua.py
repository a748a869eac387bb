"""The node-opcua PLC (``tests/interop/node/server.js``): installed with npm on first use, run as a child.

One server for the interop tests and the benches: an OPC UA stack sdf-twin did not write, with an
S7-shaped cell, an optional bulk of N variables (``twin bench browse``: 10,000 of them) and optional small
OperationLimits that node-opcua enforces (``BadTooManyOperations`` past them). node-opcua is installed
into ``tests/interop/node/node_modules`` (gitignored) by npm the first time it is needed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twin.embedded import free_port, stop_process, wait_ready_line

__all__ = ["NODE_DIR", "NodeOpcuaError", "ensure_node_opcua", "node_opcua_server"]

NODE_DIR = Path(__file__).resolve().parents[1] / "tests" / "interop" / "node"


class NodeOpcuaError(RuntimeError):
    """Node.js, npm or the node-opcua server is missing or would not start (the message says which)."""


def ensure_node_opcua(npm_timeout_s: float = 540) -> Path:
    """The ``node`` binary, with node-opcua installed next to ``server.js`` (npm install on first use)."""
    node = shutil.which("node")
    if node is None:
        raise NodeOpcuaError("Node.js is not installed (scripts/install-system-deps.sh installs it)")
    if not (NODE_DIR / "server.js").is_file():
        raise NodeOpcuaError(f"{NODE_DIR / 'server.js'} is missing: run from a checkout of sdf-twin")
    if not (NODE_DIR / "node_modules" / "node-opcua").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise NodeOpcuaError("node is installed but npm is not: install npm to get node-opcua")
        res = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=npm_timeout_s,
        )
        if res.returncode != 0:
            raise NodeOpcuaError(f"npm install node-opcua failed: {res.stderr[-2000:]}")
    return Path(node)


@contextmanager
def node_opcua_server(
    node: Path | None = None, *, port: int | None = None, bulk: int = 0, limits: int = 0, start_s: float = 60
) -> Iterator[str]:
    """Run ``server.js`` on 127.0.0.1 and yield its endpoint URL; stopped (SIGTERM, then SIGKILL) on exit.

    ``bulk``: that many Double variables ``nsu=urn:acme:bulk;s=Bulk.V<i>`` (value ``i``) in objects of 100
    under ``Objects/Bulk``; ``limits``: nodes per Read / Browse / TranslateBrowsePaths / CreateMonitoredItems.
    """
    node = node or ensure_node_opcua()
    port = port or free_port()
    args = [str(node), "server.js", str(port), str(bulk)]
    if limits:
        args.append(f"--limits={limits}")
    proc = subprocess.Popen(args, cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        if wait_ready_line(proc, start_s) is None:
            raise NodeOpcuaError(f"the node-opcua server did not start on port {port}")
        yield f"opc.tcp://127.0.0.1:{port}/interop"
    finally:
        stop_process(proc, 10, 5)
        if proc.stdout:
            proc.stdout.close()

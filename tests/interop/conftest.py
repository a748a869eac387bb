"""Fixtures of the interop tests: node-opcua (npm) installed on first use, its PLC on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.nodeopcua import NodeOpcuaError, ensure_node_opcua, node_opcua_server


@pytest.fixture(scope="session")
def node_opcua() -> Path:
    """Node.js with node-opcua installed (npm install on first use); skipped only without Node.js."""
    import shutil

    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (node-opcua interop needs it)")
    try:
        return ensure_node_opcua()
    except NodeOpcuaError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def node_plc(node_opcua: Path) -> Iterator[str]:
    """The node-opcua PLC (``tests/interop/node/server.js``); yields its endpoint URL."""
    with node_opcua_server(node_opcua) as url:
        yield url

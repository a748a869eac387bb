"""Fast server start-up: the standard address space from a cached shelf, served to a real client."""

from __future__ import annotations

from pathlib import Path

import pytest
from asyncua import Client, ua

from adapters.simulator.startup import cached_shelf, init_server
from twin.embedded import free_port

pytestmark = pytest.mark.timeout(180)


async def serve_and_browse(server: object) -> tuple[list[str], int]:
    """Start ``server`` on a free port; a client reads the namespaces and the server state."""
    from asyncua.server.server import Server

    assert isinstance(server, Server)
    url = f"opc.tcp://127.0.0.1:{free_port()}/startup-test"
    server.set_endpoint(url)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:startup-test")
    obj = await server.nodes.objects.add_object(ua.NodeId("o", ns), ua.QualifiedName("o", ns))
    await obj.add_variable(ua.NodeId("o.v", ns), ua.QualifiedName("v", ns), 42.0)
    await server.start()
    try:
        async with Client(url, timeout=10) as c:
            names = [(await n.read_browse_name()).Name for n in await c.nodes.objects.get_children()]
            assert await c.get_node(ua.NodeId("o.v", ns)).read_value() == 42.0
            state = await c.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State)).read_value()
            return names, int(state)
    finally:
        await server.stop()


async def test_shelf_is_built_once_then_loaded_lazily(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert cached_shelf(cache) is None
    first = await init_server(cache)  # a plain init that writes the shelf on the way
    assert cached_shelf(cache) is not None
    assert type(first.iserver.aspace._nodes).__name__ == "dict"
    second = await init_server(cache)
    # asyncua 2.1 silently ignores a dumb-dbm shelf without the marker file; ours is really used
    assert type(second.iserver.aspace._nodes).__name__ == "LazyLoadingDict"
    names, state = await serve_and_browse(second)
    assert {"Server", "o"} <= set(names)
    assert state == ua.ServerState.Running


async def test_a_damaged_shelf_falls_back_to_a_plain_init(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for suffix in ("", ".dir", ".dat"):
        (cache / f"aspace{suffix}").write_bytes(b"\x00garbage")
    server = await init_server(cache)
    assert not cache.exists()  # dropped; the next start rebuilds it
    names, _state = await serve_and_browse(server)
    assert "Server" in names

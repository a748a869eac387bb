"""Secure channels with certificates generated at run time, trust lists on both ends, user accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.opcua.errors import AuthenticationError, SecurityError, UntrustedServerError
from adapters.opcua.security import (
    CLIENT_APP_URI,
    CertPair,
    ClientSecurity,
    ServerSecurity,
    generate_certificate,
    trust_dir,
)
from adapters.opcua.session import AdapterOptions, check_endpoint
from benchmarks.tagserver import TagServer, plant_tags, serve
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.helpers import free_port, url_of
from tests.support.wait import wait_until_async
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(90)
USERS = {"twin": ("s3cret", "reader")}


@dataclass
class Pki:
    server: CertPair
    client: CertPair
    rogue_client: CertPair
    other_server: CertPair
    trusted_servers: Path  # what the adapter trusts
    trusted_clients: Path  # what the server trusts


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")  # never in the repository
    server = generate_certificate(d / "own", "plc", "urn:sdf-twin:test-plc", server=True)
    client = generate_certificate(d / "own", "adapter", CLIENT_APP_URI, server=False)
    rogue = generate_certificate(d / "rogue", "adapter", CLIENT_APP_URI, server=False)
    other = generate_certificate(d / "other", "plc2", "urn:sdf-twin:other-plc", server=True)
    return Pki(
        server,
        client,
        rogue,
        other,
        trust_dir(d / "trusted-servers", [server.cert]),
        trust_dir(d / "trusted-clients", [client.cert]),
    )


def client_sec(
    pki: Pki,
    mode: str = "SignAndEncrypt",
    *,
    cert: CertPair | None = None,
    password: str = "s3cret",
    trust: Path | None = None,
) -> ClientSecurity:
    c = cert or pki.client
    return ClientSecurity(
        mode=mode,
        certificate=c.cert,
        private_key=c.key,
        app_uri=c.app_uri,
        trusted_servers=(trust or pki.trusted_servers,),
        username="twin",
        password=password,
    )


@pytest.fixture
async def secure_plc(pki: Pki, mini_plant: Plant) -> AsyncIterator[TagServer]:
    sec = ServerSecurity(
        certificate=pki.server.cert,
        private_key=pki.server.key,
        trusted_clients=(pki.trusted_clients,),
        users=USERS,
    )
    async with serve(free_port(), plant_tags(mini_plant, "L1"), security=sec) as ts:
        yield ts


async def test_sign_and_encrypt_session_mirrors_values(
    pki: Pki, store: TwinStore, mini_plant: Plant, secure_plc: TagServer
) -> None:
    options = AdapterOptions(publish_interval_ms=50, security=client_sec(pki))
    adapter, task, astore = await start_adapter(
        mini_plant, secure_plc.url, url_of(store), options, {"L1": secure_plc.url}
    )
    try:
        await adapter.wait_connected(30)
        await secure_plc.write("L1-PAINT", "power_kw", 12.5)
        await wait_until_async(
            "paint power 12.5", lambda: store.read_tags("L1-PAINT").get("power_kw", (None,))[0] == 12.5, 5.0
        )
        assert store.read_tags("L1-PAINT")["power_kw"][:2] == (12.5, "good")
    finally:
        await stop_adapter(adapter, task, astore)


async def test_sign_only_is_accepted(pki: Pki, secure_plc: TagServer) -> None:
    namespaces = await check_endpoint(secure_plc.url, client_sec(pki, "Sign"))
    assert "urn:sdf-twin:sim" in namespaces


async def test_untrusted_server_is_refused(pki: Pki, secure_plc: TagServer, tmp_path: Path) -> None:
    only_other = trust_dir(tmp_path / "trust", [pki.other_server.cert])
    with pytest.raises(UntrustedServerError) as err:
        await check_endpoint(secure_plc.url, client_sec(pki, trust=only_other))
    msg = str(err.value)
    assert "server certificate" in msg and "is not in the trust list" in msg and secure_plc.url in msg


async def test_wrong_password_is_refused(pki: Pki, secure_plc: TagServer) -> None:
    with pytest.raises(AuthenticationError) as err:
        await check_endpoint(secure_plc.url, client_sec(pki, password="wrong"))
    assert "refused the login as user 'twin'" in str(err.value)
    assert "check the user name and password" in str(err.value)


async def test_server_refuses_an_unlisted_client_certificate(pki: Pki, secure_plc: TagServer) -> None:
    with pytest.raises(SecurityError) as err:
        await check_endpoint(secure_plc.url, client_sec(pki, cert=pki.rogue_client))
    assert "trust list" in str(err.value)


def test_secure_modes_need_a_trust_list(pki: Pki) -> None:
    with pytest.raises(SecurityError, match="trust list"):
        ClientSecurity(mode="Sign", certificate=pki.client.cert, private_key=pki.client.key)
    with pytest.raises(SecurityError, match="unknown security mode"):
        ClientSecurity(mode="Encrypt")

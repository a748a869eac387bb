"""The adapter's OPC UA certificate store: its client certificate made, kept and renewed before expiry (a
running adapter reconnects with the renewed one), and trust lists with refused server certificates kept
for review and trusted with `twin opcua trust` (real asyncua servers, certificates made at run time)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from adapters.opcua.errors import SecurityError, UntrustedServerError
from adapters.opcua.pki import PkiStore, keep_renewed
from adapters.opcua.security import ServerSecurity, generate_certificate
from adapters.opcua.session import AdapterOptions, check_endpoint
from benchmarks.tagserver import plant_tags, serve
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.helpers import free_port, run_twin, url_of
from tests.support.wait import wait_until_async
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(90)


def test_client_certificate_is_made_kept_and_renewed_before_expiry(tmp_path: Path) -> None:
    pki = PkiStore(tmp_path / "pki")
    assert pki.ensure_certificate() and pki.key_path.stat().st_mode & 0o777 == 0o600
    first = pki.own_certificate()
    assert first is not None and first.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=364)
    assert not pki.ensure_certificate()  # a year left: kept
    t0 = dt.datetime.now(dt.UTC)
    short = PkiStore(tmp_path / "short")
    short.ensure_certificate(valid_for=dt.timedelta(minutes=10), now=t0)  # a short-lived certificate
    assert not short.needs_renewal(now=t0 + dt.timedelta(minutes=4))
    assert short.needs_renewal(now=t0 + dt.timedelta(minutes=6))  # half its life left: due, not expired
    old = short.own_certificate()
    assert short.ensure_certificate(now=t0 + dt.timedelta(minutes=6))
    new = short.own_certificate()
    assert old is not None and new is not None and new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc + dt.timedelta(days=300)
    assert len(list((short.cert_path.parent / "old").iterdir())) == 1  # the old one is kept


async def test_running_adapter_renews_a_short_lived_certificate_and_reconnects(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    server_pair = generate_certificate(tmp_path / "plc", "plc", "urn:sdf-twin:test-plc", server=True)
    pki = PkiStore(tmp_path / "pki")
    pki.ensure_certificate(valid_for=dt.timedelta(seconds=8))  # renewed when 4 s are left
    first = pki.own_certificate()
    assert first is not None
    (pki.dir("trusted") / "plc.der").write_bytes(server_pair.cert.read_bytes())
    sec = ServerSecurity(certificate=server_pair.cert, private_key=server_pair.key)
    async with serve(free_port(), plant_tags(mini_plant, "L1"), security=sec) as plc:
        opts = AdapterOptions(publish_interval_ms=50, security=pki.client_security("SignAndEncrypt"))
        adapter, task, astore = await start_adapter(mini_plant, plc.url, url_of(store), opts, {"L1": plc.url})
        renewed_at: list[dt.datetime] = []

        def reconnect() -> None:
            renewed_at.append(dt.datetime.now(dt.UTC))
            adapter.reconnect()

        renewer = asyncio.create_task(keep_renewed(pki, reconnect, check_s=0.2))
        try:
            await adapter.wait_connected(30)
            await wait_until_async("the certificate renewed", lambda: renewed_at, 30)
            assert renewed_at[0] < first.not_valid_after_utc  # before it expired
            await wait_until_async("a second session", lambda: adapter.status.connects >= 2, 30)
            await plc.write("L1-PAINT", "power_kw", 42.0)
            await wait_until_async(
                "a value over the renewed session",
                lambda: store.read_tags("L1-PAINT").get("power_kw", (None,))[0] == 42.0,
                10,
            )
        finally:
            renewer.cancel()
            await stop_adapter(adapter, task, astore)
    renewed = pki.own_certificate()
    assert renewed is not None and renewed.serial_number != first.serial_number


async def test_refused_server_certificate_is_kept_and_trusted_with_twin_trust(
    tmp_path: Path, mini_plant: Plant
) -> None:
    server_pair = generate_certificate(tmp_path / "plc", "plc", "urn:sdf-twin:test-plc", server=True)
    pki = PkiStore(tmp_path / "pki")
    pki.ensure_certificate()
    sec = ServerSecurity(certificate=server_pair.cert, private_key=server_pair.key)
    env = {**os.environ, "TWIN_PKI_DIR": str(pki.root)}
    async with serve(free_port(), plant_tags(mini_plant, "L1"), security=sec) as plc:
        with pytest.raises(UntrustedServerError) as err:
            await check_endpoint(plc.url, pki.client_security("Sign"))
        assert "kept in" in str(err.value) and "twin opcua trust add" in str(err.value)
        listed = run_twin("opcua", "trust", "list", "--json", env=env)
        rows = json.loads(listed.stdout)["certificates"]
        [rejected] = [r for r in rows if r["kind"] == "rejected"]
        assert {r["kind"] for r in rows} == {"own", "rejected"} and "plc" in rejected["subject"]
        add = run_twin("opcua", "trust", "add", rejected["thumbprint"][:12], env=env)
        assert add.returncode == 0 and "trusted" in add.stdout, add.stderr
        assert "urn:sdf-twin:sim" in await check_endpoint(plc.url, pki.client_security("Sign"))
        assert [c.kind for c in pki.entries()] == ["trusted"]
        reject = run_twin("opcua", "trust", "reject", rejected["thumbprint"], env=env)
        assert reject.returncode == 0 and [c.kind for c in pki.entries()] == ["rejected"]
        with pytest.raises(UntrustedServerError):
            await check_endpoint(plc.url, pki.client_security("Sign"))
    assert pki.remove(rejected["thumbprint"][:8]).kind == "rejected" and pki.entries() == []
    bad = run_twin("opcua", "trust", "remove", "deadbeef00", env=env)
    assert bad.returncode == 2 and "no certificate deadbeef00" in bad.stderr and "Traceback" not in bad.stderr
    for wrong, problem in (("xyz", "not a thumbprint"), (str(pki.key_path), "not an X.509 certificate")):
        with pytest.raises(SecurityError, match=problem):
            pki.trust(wrong)

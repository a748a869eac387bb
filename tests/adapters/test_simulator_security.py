"""`twin sim --security ...` as a user runs it: a real subprocess, real asyncua clients, run-time PKI."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from asyncua import ua

from adapters.opcua.errors import AuthenticationError, SecurityError
from adapters.opcua.security import (
    CLIENT_APP_URI,
    CertPair,
    ClientSecurity,
    generate_certificate,
    make_client,
    trust_dir,
)
from adapters.opcua.session import check_endpoint
from adapters.simulator.plant import SimulatorError
from adapters.simulator.secure import parse_user, sim_security
from tests.conftest import MINI_PLANT
from tests.test_demo import Proc
from twin.embedded import free_port
from twin.model import SIM_NAMESPACE_URI


def sec(client: CertPair, server_cert: Path, user: str, password: str) -> ClientSecurity:
    return ClientSecurity(
        mode="SignAndEncrypt",
        certificate=client.cert,
        private_key=client.key,
        app_uri=client.app_uri,
        trusted_servers=(server_cert,),
        username=user,
        password=password,
    )


async def call_load(url: str, s: ClientSecurity) -> str:
    """Call L1's plan.Load over a secure session; returns its status text."""
    client = await make_client(url, s, timeout=10)
    await client.connect()
    try:
        ns = await client.get_namespace_index(SIM_NAMESPACE_URI)
        plan_obj = client.get_node(ua.NodeId("L1.plan", ns))
        seq = json.dumps([{"resource": "L1", "model": "A", "quantity": 3}])
        return str(await plan_obj.call_method(ua.NodeId("L1.plan.Load", ns), 1, seq))
    finally:
        await client.disconnect()


@pytest.mark.timeout(180)
def test_secure_sim_accepts_trusted_clients_only(tmp_path: Path) -> None:
    client = generate_certificate(tmp_path / "own", "adapter", CLIENT_APP_URI, server=False)
    rogue = generate_certificate(tmp_path / "rogue", "adapter", CLIENT_APP_URI, server=False)
    trusted = trust_dir(tmp_path / "trusted-clients", [client.cert])
    base = free_port(count=3)  # the mini plant's three lines serve on base + i
    proc = Proc(
        [
            "sim",
            "--config",
            str(MINI_PLANT),
            "--base-port",
            str(base),
            "--security",
            "sign-encrypt",
            "--trusted-clients",
            str(trusted),
            "--user",
            "planner:pl4n:writer",
            "--user",
            "viewer:v1ew:reader",
        ]
    )
    try:
        generated = Path(
            proc.wait_line(r"server certificate \(generated for this run.*\): (\S+)", 60).group(1)
        )
        url = proc.wait_line(r"^\s+L1: (opc\.tcp://\S+)", 120).group(1)
        proc.wait_line(r"^ready in ", 60)
        assert generated.is_file() and not generated.is_relative_to(Path.cwd())
        server_cert = trust_dir(tmp_path / "trusted-servers", [generated])  # the adapter's trust list

        async def scenario() -> None:
            namespaces = await check_endpoint(url, sec(client, server_cert, "viewer", "v1ew"))
            assert SIM_NAMESPACE_URI in namespaces
            # the writer account may load a plan; the reader may not
            assert await call_load(url, sec(client, server_cert, "planner", "pl4n")) == "accepted"
            with pytest.raises(ua.UaStatusCodeError):
                await call_load(url, sec(client, server_cert, "viewer", "v1ew"))
            with pytest.raises(SecurityError, match="trust list"):
                await check_endpoint(url, sec(rogue, server_cert, "planner", "pl4n"))
            with pytest.raises(AuthenticationError):
                await check_endpoint(url, sec(client, server_cert, "planner", "wrong"))

        asyncio.run(scenario())
        proc.p.send_signal(signal.SIGINT)
        assert proc.finish(timeout=60) == 0, "\n".join(proc.lines)
        assert proc.lines[-1] == "stopped"
        assert not generated.exists()  # the generated key pair dies with the run
    finally:
        proc.kill()


def test_security_choices_are_checked(tmp_path: Path) -> None:
    assert parse_user("a:b") == ("a", "b", "writer")
    assert parse_user("a:b:reader") == ("a", "b", "reader")
    assert parse_user("a:b:c") == ("a", "b:c", "writer")
    with pytest.raises(SimulatorError, match="NAME:PASSWORD"):
        parse_user("nopass")

    def build(mode: str, **kw: object) -> object:
        args: dict[str, object] = {"cert": None, "key": None, "trusted_clients": [], "users": []}
        args.update(kw)
        return sim_security(mode, workdir=tmp_path, **args)  # type: ignore[arg-type]

    with pytest.raises(SimulatorError, match="--security must be one of"):
        build("encrypt")
    with pytest.raises(SimulatorError, match="needs --trusted-clients"):
        build("sign")
    with pytest.raises(SimulatorError, match="give both or neither"):
        build("sign", cert=tmp_path / "x.der", trusted_clients=[tmp_path])
    with pytest.raises(SimulatorError, match="given twice"):
        build("none", users=["a:b", "a:c"])
    assert build("none").server is None  # type: ignore[attr-defined]
    only_accounts = build("none", users=["a:b:reader"]).server  # type: ignore[attr-defined]
    assert only_accounts.users == {"a": ("b", "reader")} and only_accounts.certificate is None

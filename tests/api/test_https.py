"""`twin serve --tls-cert/--tls-key`: the API over HTTPS and WSS to real clients (httpx, websockets) that
verify it against a CA made at run time; plain HTTP and unverified clients get nothing; bad files are one
clear line (exit 2)."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.conftest import ApiEnv
from tests.helpers import TWIN_MAIN, cli_env, run_twin, url_of
from tests.support.tlscerts import make_pki
from tests.support.wait import wait_until
from twin.api.auth import Role, new_token
from twin.embedded import free_port


def _ready(url: str, ca: Path, proc: subprocess.Popen[str]) -> bool:
    assert proc.poll() is None, proc.communicate()
    try:
        return httpx.get(url + "/readyz", verify=str(ca)).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(120)
async def test_serve_over_https_and_wss(api_env: ApiEnv, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", hosts=("127.0.0.1",))
    token, line = new_token(Role.VIEWER, "https-viewer")
    port = free_port()
    args = ["serve", "--port", str(port), "--no-viewer", "--no-writeback",
            "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]  # fmt: skip
    env = cli_env(url_of(api_env.store), TWIN_API_TOKENS=line)
    proc = subprocess.Popen(
        [*TWIN_MAIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"https://127.0.0.1:{port}"
    try:
        wait_until("twin serve answering over HTTPS", lambda: _ready(url, pki.ca, proc), 60, 0.2)
        me = httpx.get(url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, verify=str(pki.ca))
        assert me.json() == {"name": "https-viewer", "role": "viewer"}
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url + "/readyz")  # a client that does not trust the CA refuses the server
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/readyz")  # no plain HTTP on the HTTPS port
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        async with connect(f"wss://127.0.0.1:{port}/api/v1/ws/changes?token={token}", ssl=ctx) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello" and hello["user"] == "https-viewer"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"API on https://127.0.0.1:{port}" in out


def test_serve_refuses_unusable_tls_files_in_one_line(api_env: ApiEnv, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    env = cli_env(url_of(api_env.store))
    cases = [
        (["--tls-cert", str(pki.server_cert)], "both --tls-cert and --tls-key"),
        (
            ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(pki.server_key)],
            "none.pem: no such file",
        ),
        (
            ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.client_key)],
            "not a PEM certificate and its key",
        ),
    ]
    for extra, message in cases:
        out = run_twin("serve", "--no-viewer", *extra, cmd=TWIN_MAIN, env=env)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
        assert "Traceback" not in out.stderr

"""`twin token new`, `twin serve` as a real process, and `twin bench api --quick`."""

from __future__ import annotations

import json
import signal
import subprocess
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ApiEnv
from tests.helpers import TWIN_MAIN, cli_env, run_twin, url_of
from tests.support.wait import wait_until
from twin.api.auth import hash_token
from twin.embedded import free_port

_run = partial(run_twin, cmd=TWIN_MAIN, timeout=120)


def test_token_new_prints_token_and_hash_line() -> None:
    out = _run("token", "new", "scheduler", "--name", "planner")
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    token = lines["token"]
    digest, role, name = lines["tokens-file line"].split()
    assert digest == hash_token(token) and role == "scheduler" and name == "planner"
    bad = _run("token", "new", "root")
    assert bad.returncode == 1 and "unknown role 'root'" in bad.stderr


@pytest.mark.timeout(120)
def test_serve_runs_the_api_with_the_real_replanner(api_env: ApiEnv, tmp_path: Path) -> None:
    out = _run("token", "new", "scheduler", "--name", "cli-user")
    lines = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    tokens = tmp_path / "tokens"
    tokens.write_text(lines["tokens-file line"] + "\n")
    port = free_port()
    env = cli_env(url_of(api_env.store))
    proc = subprocess.Popen(
        [*TWIN_MAIN, "serve", "--port", str(port), "--tokens", str(tokens), "--no-viewer", "--no-writeback"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, proc.communicate()
            try:
                return httpx.get(url + "/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until("twin serve to get ready", ready, 60, interval=0.2)
        h = {"Authorization": f"Bearer {lines['token']}"}
        assert httpx.get(url + "/api/v1/me", headers=h).json() == {"name": "cli-user", "role": "scheduler"}
        r = httpx.post(url + "/api/v1/replan", headers=h, timeout=90)
        assert r.status_code == 200, r.text
        version = r.json()["version"]
        assert api_env.store.get_plan(version).assignments  # the scheduler's plan, stored in the twin
        assert any(e["action"] == "plan.replan" and e["actor"] == "cli-user" for e in api_env.store.audit(20))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err


def test_serve_without_redis_fails_in_one_line() -> None:
    out = _run("serve", "--no-viewer", env=cli_env())
    assert out.returncode == 1 and "REDIS_URL" in out.stderr


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_bench_api_quick_json() -> None:
    out = _run("bench", "api", "--json", "--quick", env=cli_env(), timeout=160)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    for key in (
        "reads_per_s",
        "ws_clients",
        "ws_changes_per_s_delivered",
        "baseline_store_reads_per_s",
        "ws_changes_per_s_written",
    ):
        assert res[key] > 0, key
    assert res["ws_clients"] == 50 and res["ws_clients_dropped"] == 0
    assert 0 < res["ws_delivery_ratio"] <= 1.0

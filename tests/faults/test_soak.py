"""`twin bench soak` for half a minute (CI's short soak; docs/reliability.md quotes a long one): the demo's
processes at 60x with WebSocket and API clients; every process sampled, nothing lost, no errors."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli_env, run_twin


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_short_soak_reports_every_process_and_loses_nothing() -> None:
    out = run_twin(
        "bench", "soak", "--minutes", "0.5", "--ws-clients", "3", "--json", env=cli_env(), timeout=160
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert res["minutes"] == 0.5
    by_name = {p["name"]: p for p in res["processes"]}
    assert set(by_name) == {"redis-server", "sim", "adapter", "api"}
    for name, p in by_name.items():
        assert p["samples"] >= 10 and p["rss_slope_pct_per_h"] is not None, (name, p)
        assert p["p99_latency_ms"] is not None and p["p99_latency_ms"] > 0, (name, p)
    assert res["ws_messages_received"] > 0 and res["stream_entries_per_s"] > 0
    assert res["changes_lost"] == 0, res
    assert res["errors"] == 0, res["error_lines"]

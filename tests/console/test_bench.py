"""`twin bench console --quick --json` runs on the demo and reports every figure with its baseline."""

from __future__ import annotations

import json

import pytest

from tests.console.conftest import needs_chromium
from tests.helpers import TWIN_MAIN, cli_env, run_twin


@needs_chromium
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_console_quick_json() -> None:
    out = run_twin("bench", "console", "--quick", "--json", cmd=TWIN_MAIN, env=cli_env(), timeout=280)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert res["quick"] is True and res["clients"] == 10
    assert (
        res["state_changes_drawn"] > 0 and 0 < res["change_to_pixel_ms_p50"] <= res["change_to_pixel_ms_p95"]
    )
    assert res["console_bytes_per_client_per_s"] > 0 and res["trame_bytes_per_browser_per_s"] > 0
    assert res["bytes_ratio_console_vs_trame"] == pytest.approx(
        res["console_browser_bytes_per_s"] / res["trame_bytes_per_browser_per_s"], rel=0.01
    )
    assert res["server_cpu_with_clients_pct_core"] > 0 and res["server_cpu_idle_pct_core"] > 0
    assert len(res["first_meaningful_paint_ms_runs"]) == 3 and res["first_meaningful_paint_ms_median"] > 0

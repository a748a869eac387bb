"""``twin bench browse``: browse and draft of a generated node-opcua server, with its naive baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli_env, run_twin


@pytest.mark.timeout(200)
def test_bench_browse_prints_browse_draft_and_baseline(node_opcua: Path) -> None:
    res = run_twin("bench", "browse", "--json", "--quick", "--nodes", "300", env=cli_env(), timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(res.stdout)
    for key in ("nodes", "browse_s", "draft_s", "baseline_s", "draft_only_s"):
        assert isinstance(data[key], int | float) and data[key] > 0, key
    # the batched browse and the naive one saw the same address space: the bulk and the interop nodes
    assert data["nodes"] == data["baseline_nodes"] > 300
    assert data["bulk_variables"] == 300 and data["repeats"] == 1
    assert data["stations"] >= 3 and data["tags"] >= 300  # 3 objects of 100 variables, and the others
    assert len(data["load_avg_1m"]) == 2

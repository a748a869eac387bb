"""``twin adapt`` (sharded processes) and ``twin bench ingest --quick``, run as a user would."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from adapters.opcua.mapping import build_bindings
from adapters.opcua.runner import Shard, shard_bindings
from benchmarks.tagserver import ServerProcess
from tests.conftest import MINI_PLANT
from tests.helpers import TWIN, cli_env, free_port, run_twin
from twin.config import plant_from_data
from twin.errors import TwinError
from twin.model import Plant
from twin.store import TwinStore


def big_plant(lines: int, stations: int, with_endpoints: bool = True) -> Plant:
    return plant_from_data(
        {
            "id": "big",
            "lines": [
                {
                    "id": f"L{i}",
                    **({"opcua": {"endpoint": f"opc.tcp://127.0.0.1:{5000 + i}"}} if with_endpoints else {}),
                    "equipment": [{"id": f"L{i}-S{j}", "operations": ["op"]} for j in range(stations)],
                }
                for i in range(lines)
            ],
        }
    )


@pytest.mark.parametrize(("lines", "n"), [(10, 2), (10, 3), (1, 2), (3, 4)])
def test_shards_are_disjoint_complete_and_deterministic(lines: int, n: int) -> None:
    bindings, _ = build_bindings(big_plant(lines, 20))
    everything = {(b.endpoint, b.name) for bs in bindings.values() for b in bs}
    parts = [
        {(b.endpoint, b.name) for bs in shard_bindings(bindings, Shard(i, n)).values() for b in bs}
        for i in range(n)
    ]
    assert set().union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)
    assert all(parts)  # nobody idles
    again, _ = build_bindings(big_plant(lines, 20))
    assert {(b.endpoint, b.name) for bs in shard_bindings(again, Shard(0, n)).values() for b in bs} == parts[
        0
    ]


def test_shard_syntax_errors_are_clear() -> None:
    assert Shard.parse("2/3") == Shard(1, 3)
    for bad in ("0/2", "3/2", "x", "1/0"):
        with pytest.raises(TwinError, match="bad shard"):
            Shard.parse(bad)


@pytest.mark.timeout(120)
def test_two_sharded_adapter_processes_mirror_every_tag(redis_url: str, mini_plant: Plant) -> None:
    with (
        ServerProcess(free_port(), MINI_PLANT, line="L1") as s1,
        ServerProcess(free_port(), MINI_PLANT, line="L2") as s2,
    ):
        s1.start(start_value=100)
        s2.start(start_value=100)
        env = cli_env(redis_url)
        common = [
            "adapt",
            "--config",
            str(MINI_PLANT),
            "--endpoint",
            f"L1={s1.url}",
            "--endpoint",
            f"L2={s2.url}",
            "--duration",
            "6",
        ]
        procs = [
            subprocess.Popen(
                [*TWIN, *common, "--shard", f"{i}/2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in (1, 2)
        ]
        outs = [p.communicate(timeout=90) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all("mirroring" in o for o, _e in outs)
    store = TwinStore.from_url(redis_url)
    expected = {
        (e.id, t.name)
        for ln in mini_plant.lines
        if ln.id in ("L1", "L2")
        for e in ln.equipment
        for t in e.tags()
    }
    mirrored = {
        (e, t)
        for e, _tag in expected
        for t, (_v, q, _ts) in store.read_tags(e).items()
        if q in ("good", "stale")
    }
    assert expected <= mirrored
    assert int(store.read_tags("L2-WELD")["part_count"][0]) >= 100
    store.client.close()


def test_adapt_needs_redis_and_reports_bad_endpoint_syntax(redis_url: str) -> None:
    res = run_twin("adapt", "--config", str(MINI_PLANT), env=cli_env())
    assert res.returncode != 0 and "REDIS_URL" in res.stderr
    res = run_twin("adapt", "--config", str(MINI_PLANT), "--endpoint", "L1:nope", env=cli_env(redis_url))
    assert res.returncode != 0 and "bad --endpoint" in res.stderr


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_bench_ingest_quick_prints_the_figures(redis_url: str) -> None:
    t0 = time.monotonic()
    res = run_twin("bench", "ingest", "--json", "--quick", env=cli_env(redis_url), timeout=160)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(res.stdout)
    for key in (
        "adapter_changes_per_s",
        "bare_changes_per_s",
        "naive_changes_per_s",
        "adapter_cpu_us_per_change",
        "bare_cpu_us_per_change",
        "latency_p50_ms",
        "latency_p99_ms",
        "publish_interval_ms",
        "peak_rss_mb",
    ):
        assert isinstance(data[key], int | float), key
    assert data["adapter_changes_per_s"] > 0 and data["bare_changes_per_s"] > 0
    # Under the full overload the naive writer may absorb nothing at all; at the lighter load it does.
    assert data["naive_changes_per_s"] >= 0 and data["adapter_cpu_us_per_change"] > 0
    assert data["naive_best_changes_per_s"] > 0 and data["naive_sweep_changes_per_s"]
    ratio = data["adapter_changes_per_s"] / data["naive_best_changes_per_s"]
    assert data["throughput_ratio_adapter_vs_naive"] == pytest.approx(ratio, rel=0.01)
    assert data["offered_changes_per_s"] == data["tags"] * 10 and data["tags"] == 2 * 200 * 7
    assert 0 < data["latency_p50_ms"] <= data["latency_p99_ms"]
    assert data["publish_interval_ms"] == 100 and data["peak_rss_mb"] > 10
    assert data["adapter_counters"]["store_errors"] == 0
    assert time.monotonic() - t0 > 0

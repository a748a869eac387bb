"""Scale-out: the generated 10-line x 50-station x 20-tag plant (10,000 tags) served by the simulator
(`twin sim`) and mirrored by two `twin adapt --shard I/2` processes; every tag must reach Redis."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults.harness import TWIN, Proc, record
from tests.support.wait import wait_until
from twin.config import load_plant
from twin.embedded import EmbeddedRedis, free_port
from twin.store import TwinStore


@pytest.mark.slow
@pytest.mark.timeout(290)
def test_two_shards_mirror_every_tag_of_a_10k_tag_plant(tmp_path: Path) -> None:
    gen = subprocess.run([TWIN, "plant", "generate", "--lines", "10", "--stations", "50", "--tags", "20"],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    plant_file = tmp_path / "plant-10x50x20.yaml"
    plant_file.write_text(gen.stdout)
    plant = load_plant(plant_file)
    n_tags = sum(len(e.tags()) for e in plant.equipment())
    assert n_tags == 10_000
    base = free_port(count=len(plant.lines))
    endpoints = [f"{line.id}=opc.tcp://127.0.0.1:{base + i}" for i, line in enumerate(plant.lines)]
    procs: list[Proc] = []
    with EmbeddedRedis() as redis:
        env = {"REDIS_URL": redis.url}
        try:
            t0 = time.monotonic()
            # Slow simulated time and generous timers: 10 servers and 10k tags share two busy CPU cores.
            sim_args = [TWIN, "sim", "--config", str(plant_file), "--base-port", str(base), "--speed", "1"]
            sim = Proc(sim_args, tmp_path / "sim.out", env=env).start()
            procs.append(sim)
            for i in (1, 2):
                args = [TWIN, "adapt", "--config", str(plant_file), "--shard", f"{i}/2",
                        "--publish-interval-ms", "500", "--stale-after", "30"]  # fmt: skip
                for ep in endpoints:
                    args += ["--endpoint", ep]
                procs.append(Proc(args, tmp_path / f"adapt{i}.out", env=env).start())
            store = TwinStore.from_url(redis.url, plant.id)
            wanted = {e.id: {t.name for t in e.tags()} for e in plant.equipment()}

            def missing() -> int:
                try:
                    rows = store.status()
                except Exception:  # the plant is not loaded yet
                    return n_tags
                return sum(len(wanted[r["id"]] - set(r)) for r in rows)

            def done() -> bool:
                for p in procs:
                    assert p.alive(), f"{p.args[1:4]} died: {p.output()[-2000:]}"
                return missing() == 0

            wait_until("every one of the 10,000 tags in Redis", done, 240, interval=2.0)
            elapsed = time.monotonic() - t0
            rows = store.status()
            assert len(rows) == len(plant.equipment()) == 500
            split = [
                int(m.group(1))
                for p in procs[1:]
                for m in [re.search(r"mirroring (\d+) tags", p.output())]
                if m
            ]
            assert (
                sorted(split) == sorted(split) and sum(split) == n_tags and all(split)
            )  # disjoint and complete
            stale = [r["id"] for r in rows if r["quality"] == "stale"]
            figures = {"tags": n_tags, "shards": 2, "tags_per_shard": split}
            record(
                "sharded_10k",
                {**figures, "all_mirrored_after_s": round(elapsed, 1), "stale_rows": len(stale)},
            )
            store.client.close()
            for p in procs[1:]:
                assert p.terminate(timeout=60) == 0, p.output()[-2000:]
        finally:
            for p in procs:
                p.close()

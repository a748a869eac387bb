"""The archive follower on a real redis-server and real files: exactly once across restarts and outages."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.archive.conftest import archived_keys, stream_keys
from tests.faults.harness import TWIN, Proc
from tests.support.wait import wait_until
from twin.archive import ArchiveFs, Follower, FollowerOptions, MaintenanceOptions
from twin.archive.checkpoint import Pending, load_checkpoint, save_checkpoint
from twin.embedded import EmbeddedRedis
from twin.errors import StoreError
from twin.model import Plan, PlanAssignment, Plant
from twin.store import TwinStore

T0 = 1_700_000_000.0


def _write(store: TwinStore, plant: Plant, i: int) -> str:
    eq = plant.equipment()[0].id
    return store.write_changes(
        [(eq, "part_count", i, "good", T0 + i * 7.0), (eq, "state", "Running", "good", T0 + i * 7.0)]
    )


class Writer(threading.Thread):
    """Writes numbered batches until stopped, retrying each through Redis outages."""

    def __init__(self, url: str, plant: Plant) -> None:
        super().__init__(daemon=True)
        self.store = TwinStore.from_url(url, plant.id)
        self.plant = plant
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                _write(self.store, self.plant, self.written)
                self.written += 1
            except StoreError:
                self.stop.wait(0.05)
            self.stop.wait(0.002)


def _checkpoint(root: Path, plant_id: str) -> dict[str, object]:
    p = root / "_state" / f"plant={plant_id}" / "checkpoint.json"
    return json.loads(p.read_text()) if p.exists() else {}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill9_of_the_follower_and_of_redis_mid_run_archive_every_change_once(
    tmp_path: Path, mini_plant: Plant
) -> None:
    data = tmp_path / "data"
    redis = EmbeddedRedis(
        workdir=tmp_path / "redis", persist=True, extra_args=["--appendfsync", "always"]
    ).start()
    procs: list[Proc] = []
    writer = None
    try:
        TwinStore.from_url(redis.url).load_plant(mini_plant)
        writer = Writer(redis.url, mini_plant)
        writer.start()
        args = [TWIN, "archive", "--data-dir", str(data), "--flush-s", "0.2"]

        def follower() -> Proc:
            p = Proc(args, tmp_path / f"archive{len(procs)}.out", env={"REDIS_URL": redis.url}).start()
            procs.append(p)
            return p

        def archived_more(than: int) -> bool:
            return int(_checkpoint(data, mini_plant.id).get("archived_changes", 0) or 0) > than

        p = follower()
        for _ in range(2):  # kill -9 the follower twice while it is writing, start a new one
            seen = int(_checkpoint(data, mini_plant.id).get("archived_changes", 0) or 0)
            wait_until("the follower archived more", lambda s=seen: archived_more(s + 50), 60)
            p.kill9()
            p = follower()
        seen = int(_checkpoint(data, mini_plant.id).get("archived_changes", 0) or 0)
        wait_until("archiving after the restarts", lambda: archived_more(seen + 50), 60)
        redis.kill()  # Redis dies mid-run; the follower and the writer retry
        before = writer.written
        redis.start()
        wait_until("writes after Redis came back", lambda: writer.written > before + 100, 60)
        seen = int(_checkpoint(data, mini_plant.id).get("archived_changes", 0) or 0)
        wait_until("archiving after the Redis restart", lambda: archived_more(seen + 50), 60)
        writer.stop.set()
        writer.join(10)
        store = TwinStore.from_url(redis.url, mini_plant.id)
        last = store.change_stream_info()["last_id"]
        wait_until(
            "the follower reached the end of the stream",
            lambda: _checkpoint(data, mini_plant.id).get("changes") == last,
            60,
        )
        assert p.terminate(30) == 0, p.output()[-2000:]
        expected = stream_keys(store.change_range())
        got = archived_keys(data, mini_plant.id)
        dupes = {k: n for k, n in got.items() if n > 1}
        assert not dupes, f"{len(dupes)} changes archived twice"
        assert got.keys() == expected.keys(), (len(got), len(expected))
        assert len(expected) > 600
        assert "retrying" in "".join(x.output() for x in procs)  # it did meet the outage
        store.close()
    finally:
        if writer is not None:
            writer.stop.set()
        for x in procs:
            x.close()
        redis.stop()


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_a_partial_file_of_a_killed_writer_is_dropped_and_rewritten(
    tmp_path: Path, store: TwinStore, mini_plant: Plant, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    fs = ArchiveFs(scheme + str(tmp_path))
    for i in range(30):
        _write(store, mini_plant, i)
    f = Follower(store, fs, mini_plant.id)
    f.catch_up()
    before = load_checkpoint(fs, mini_plant.id)
    first_of_next = _write(store, mini_plant, 30)
    for i in range(31, 1200):  # 7 s apart: spans several source hours, so several files
        _write(store, mini_plant, i)
    f.catch_up()
    files = [p for p in fs.files("changes", mini_plant.id) if f"part-{first_of_next}-" in p]
    assert len(files) >= 2
    # What a writer killed mid-file leaves: the flush named in the checkpoint, one file cut short.
    data = Path(files[-1]).read_bytes()
    Path(files[-1]).write_bytes(data[: len(data) // 2])
    before.pending = Pending(table="changes", files=files, upto=f.cp.changes)
    save_checkpoint(fs, mini_plant.id, before)
    caplog.set_level("WARNING")
    again = Follower(store, fs, mini_plant.id)
    assert "unfinished flush" in caplog.text
    again.catch_up()
    expected = stream_keys(store.change_range())
    got = archived_keys(tmp_path, mini_plant.id)
    assert got == expected  # every change once
    assert all(fs.valid(p) for p in fs.files("changes", mini_plant.id))


def test_compaction_merges_closed_hours_and_keeps_every_change(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    fs = ArchiveFs(str(tmp_path))
    opts = FollowerOptions(maintenance=MaintenanceOptions(compact_after_s=0.0, min_files=2))
    f = Follower(store, fs, mini_plant.id, opts)
    for k in range(6):  # six flushes into the same source hours
        for i in range(k * 80, k * 80 + 80):
            _write(store, mini_plant, i)
        f.catch_up()
    before = len(fs.files("changes", mini_plant.id))
    f.cp = f.maintenance.run(f.cp, f.stats.newest_ts + 7200, 0.0)
    after = fs.files("changes", mini_plant.id)
    assert len(after) < before
    assert archived_keys(tmp_path, mini_plant.id) == stream_keys(store.change_range())
    assert load_checkpoint(fs, mini_plant.id).compaction is None


def test_an_interrupted_compaction_is_finished_on_start(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    from twin.archive.checkpoint import Compaction
    from twin.archive.schema import parquet_bytes

    fs = ArchiveFs(str(tmp_path))
    f = Follower(store, fs, mini_plant.id)
    for k in range(3):
        for i in range(k * 10, k * 10 + 10):
            _write(store, mini_plant, i)
        f.catch_up()
    files = fs.files("changes", mini_plant.id)
    assert len(files) == 3
    import pyarrow as pa

    merged = pa.concat_tables([pq.read_table(p) for p in files])
    target = str(Path(files[0]).with_name("part-1-0-cmerged.parquet"))
    fs.write_bytes(target, parquet_bytes(merged))  # the merge was written, its sources not yet deleted
    f.cp.compaction = Compaction(target=target, sources=files, rows=merged.num_rows)
    save_checkpoint(fs, mini_plant.id, f.cp)
    Follower(store, fs, mini_plant.id)
    assert fs.files("changes", mini_plant.id) == [target]
    assert archived_keys(tmp_path, mini_plant.id) == stream_keys(store.change_range())


def test_retention_drops_old_days(tmp_path: Path, store: TwinStore, mini_plant: Plant) -> None:
    fs = ArchiveFs(str(tmp_path))
    eq = mini_plant.equipment()[0].id
    for day in range(5):
        store.write_changes([(eq, "part_count", day, "good", T0 + day * 86400.0)])
    opts = FollowerOptions(maintenance=MaintenanceOptions(retention_days=2))
    f = Follower(store, fs, mini_plant.id, opts)
    f.catch_up()
    f.cp = f.maintenance.run(f.cp, f.stats.newest_ts, 0.0)
    days = sorted({Path(p).parent.parent.name for p in fs.files("changes", mini_plant.id)})
    assert len(days) == 3 and days[-1] == "date=2023-11-18"


def test_demand_events_audit_entries_and_plans_are_archived(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    fs = ArchiveFs(str(tmp_path))
    store.set_demand("A", 7, actor="alice")
    store.append_audit("alice", "demand.set", {"model": "A"})
    store.put_plan(
        Plan(
            reason="test",
            assignments=[PlanAssignment(resource="L1", model="A", quantity=3, start_s=0, end_s=3600)],
        )
    )
    f = Follower(store, fs, mini_plant.id)
    f.catch_up()
    demand = pq.read_table(fs.files("demand", mini_plant.id)[0]).to_pylist()
    assert [(d["model"], d["qty"], d["actor"]) for d in demand] == [("A", 7, "alice")]
    audit = pq.read_table(fs.files("audit", mini_plant.id)[0]).to_pylist()
    assert audit[0]["action"] == "demand.set" and json.loads(audit[0]["detail"]) == {"model": "A"}
    plans = pq.read_table(fs.files("plans", mini_plant.id)[0]).to_pylist()
    assert plans[0]["version"] == 1 and plans[0]["quantity"] == 3
    f.catch_up()  # nothing new: nothing written twice
    assert len(fs.files("demand", mini_plant.id)) == 1 and len(fs.files("plans", mini_plant.id)) == 1


def test_a_bad_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.faults.harness import ROOT

    (tmp_path / "file").write_text("x")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": "redis://127.0.0.1:1/0"}
    r = subprocess.run(
        [TWIN, "archive", "--data-dir", str(tmp_path / "file" / "sub"), "--once"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 1 and "cannot create archive" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_values_of_every_json_type_come_back_as_written(
    tmp_path: Path, store: TwinStore, mini_plant: Plant
) -> None:
    from twin.archive.reader import ArchiveReader

    values = [1.25, 7, -3, True, False, None, "Running", 'say "hi", ok', [1, {"a": 2}], 2**40]
    for i, v in enumerate(values):
        store.write_changes([("L1-WELD", "alarm", v, "good", T0 + i)])
    Follower(store, ArchiveFs(str(tmp_path)), mini_plant.id).catch_up()
    page = ArchiveReader(ArchiveFs(str(tmp_path))).history("L1-WELD", "alarm", T0, T0 + 100)
    got = [r.value for r in page.rows]
    assert got == values and [type(v) for v in got] == [type(v) for v in values]

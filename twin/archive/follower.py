"""The archive follower: reads the change stream (and demand events, audit entries, plan versions) after
its persisted position and writes each entry exactly once into partitioned Parquet files.

It buffers entries and flushes them every ``flush_s`` seconds or ``max_rows`` changes: one file per source
hour touched, named after the flush's first stream id, recorded in the checkpoint before they are written
and committed after (:mod:`twin.archive.checkpoint`). A lost Redis connection is retried with backoff (the
buffer is kept; the stream still holds what was not archived). Entries trimmed from the capped stream
before the follower read them are counted as a gap and logged, never invented.

The follower is handed an :class:`ArchiveSource` (the store implements it); it imports no Redis code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twin.archive.checkpoint import (
    FIRST_ID,
    Pending,
    id_key,
    load_checkpoint,
    save_checkpoint,
)
from twin.archive.decode import PayloadDecoder
from twin.archive.layout import ArchiveFs, partition_of, plant_dir
from twin.archive.maintenance import Maintenance, MaintenanceOptions, finish_compaction
from twin.archive.schema import (
    RawEntry,
    audit_table,
    demand_table,
    hour_slices,
    parquet_bytes,
    plan_table,
    split_groups,
)
from twin.errors import StoreError
from twin.model import Plan, Plant

__all__ = ["ArchiveSource", "Follower", "FollowerOptions", "FollowerStats"]

log = logging.getLogger(__name__)


class ArchiveSource(Protocol):
    """What the follower reads (:class:`twin.store.TwinStore` provides it)."""

    def read_change_payloads(self, after: str, count: int, block_ms: int | None) -> list[RawEntry]: ...
    def demand_events(
        self, after: str, count: int, block_ms: int | None
    ) -> list[tuple[str, dict[str, str]]]: ...
    def audit_after(self, after: str, count: int) -> list[tuple[str, dict[str, str]]]: ...
    def plan_versions(self) -> list[int]: ...
    def get_plan(self, version: int | None) -> Plan: ...
    def change_stream_info(self) -> dict[str, Any]: ...
    def plant(self) -> Plant: ...


@dataclass(frozen=True)
class FollowerOptions:
    """How often the follower reads, flushes and tidies up (see docs/history.md)."""

    flush_s: float = 5.0
    max_rows: int = 200_000
    read_count: int = 2000
    block_ms: int = 500
    side_every_s: float = 2.0
    retry_max_s: float = 5.0
    maintenance: MaintenanceOptions = field(default_factory=MaintenanceOptions)


@dataclass
class FollowerStats:
    """What the follower did since it started."""

    entries: int = 0
    changes: int = 0
    files: int = 0
    bytes: int = 0
    flushes: int = 0
    store_errors: int = 0
    recovered_files: int = 0
    newest_ts: float = 0.0


class Follower:
    """Follows one plant's streams into the archive at ``fs``."""

    def __init__(
        self,
        source: ArchiveSource,
        fs: ArchiveFs,
        plant_id: str,
        options: FollowerOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.fs = fs
        self.plant_id = plant_id
        self.opts = options or FollowerOptions()
        self.clock = clock
        self.stats = FollowerStats()
        self.cp = load_checkpoint(fs, plant_id)
        self.maintenance = Maintenance(fs, plant_id, self.opts.maintenance)
        self.decoder = PayloadDecoder()
        self._buffer: list[RawEntry] = []
        self._rows = 0
        self._read_after = self.cp.changes
        self._first_buffered = 0.0
        self._last_side = -1e18
        self._checked_gap = False
        self.recover()

    # ------------------------------------------------------------------ start-up
    def recover(self) -> None:
        """Undo an unfinished flush (its files may be partial) and finish or undo an unfinished compaction."""
        if self.cp.pending is not None:
            n = self.fs.delete(self.cp.pending.files)
            if n:
                log.warning(
                    "archive: discarded %d file(s) of an unfinished flush (killed writer?); "
                    "rewriting them from the stream after %s",
                    n,
                    self.cp.changes,
                )
            self.stats.recovered_files += n
            self.cp.pending = None
            save_checkpoint(self.fs, self.plant_id, self.cp)
        if self.cp.compaction is not None:
            finish_compaction(self.fs, self.cp.compaction)
            self.cp.compaction = None
            save_checkpoint(self.fs, self.plant_id, self.cp)

    def save_plant(self) -> None:
        """Keep the plant definition beside the data (KPIs need lines, shifts and cycle times)."""
        plant = self.source.plant()
        self.fs.write_bytes(
            self.fs.path(plant_dir("_state", self.plant_id), "plant.json"),
            plant.model_dump_json(by_alias=True).encode(),
        )

    # ------------------------------------------------------------------ the loop
    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set; then flush what is buffered. Redis outages are retried."""
        backoff = 0.1
        plant_saved = False
        while not stop.is_set():
            try:
                if not plant_saved:
                    self.save_plant()
                    plant_saved = True
                self.step()
                backoff = 0.1
            except StoreError as exc:
                self.stats.store_errors += 1
                self._checked_gap = False
                log.warning("archive: %s; retrying in %.1f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(self.opts.retry_max_s, backoff * 2)
        self.flush()

    def step(self, block_ms: int | None = None) -> int:
        """One read (blocking up to ``block_ms``), then flush / side tables / upkeep when due; returns the
        number of entries read."""
        if not self._checked_gap:
            self._check_gap()
        got = self.source.read_change_payloads(
            self._read_after, self.opts.read_count, self.opts.block_ms if block_ms is None else block_ms
        )
        now = self.clock()
        if got:
            if not self._buffer:
                self._first_buffered = now
            self._buffer.extend(got)
            self._read_after = got[-1][0]
            self._rows += sum(p.count("],[") + 1 for _i, _s, p in got if len(p) > 2)
        if self._buffer and (
            self._rows >= self.opts.max_rows or now - self._first_buffered >= self.opts.flush_s
        ):
            self.flush()
        if now - self._last_side >= self.opts.side_every_s:
            self._last_side = now
            self.archive_side_tables()
        if self.maintenance.due(now):
            self.cp = self.maintenance.run(self.cp, self.stats.newest_ts, now)
        return len(got)

    def catch_up(self) -> int:
        """Archive everything the streams hold now (no waiting), flush, and return the entries read."""
        self.save_plant()
        total = 0
        while n := self._read_once():
            total += n
        self.flush()
        self.archive_side_tables()
        return total

    def _read_once(self) -> int:
        got = self.source.read_change_payloads(self._read_after, self.opts.read_count, None)
        if got:
            self._buffer.extend(got)
            self._read_after = got[-1][0]
            self._rows += sum(p.count("],[") + 1 for _i, _s, p in got if len(p) > 2)
            if self._rows >= self.opts.max_rows:
                self.flush()
        return len(got)

    def _check_gap(self) -> None:
        info = self.source.change_stream_info()
        first = info.get("first_id")
        if first and self.cp.changes != FIRST_ID and id_key(first) > id_key(self.cp.changes):
            # the entries after our position were trimmed from the capped stream before we read them
            after = self._read_after
            if id_key(after) < id_key(first):
                self.cp.gaps += 1
                log.warning(
                    "archive: the stream starts after the archived position (%s < first %s): entries were "
                    "trimmed before they were archived (raise the stream cap, keep the follower up), or this "
                    "is a new stream (a Redis without its data); archiving goes on from its start",
                    self.cp.changes,
                    first,
                )
        self._checked_gap = True

    # ------------------------------------------------------------------ writing
    def flush(self) -> None:
        """Write the buffered entries (one file per source hour) and move the checkpoint past them."""
        if not self._buffer:
            return
        entries, self._buffer, self._rows = self._buffer, [], 0
        table = self.decoder.table(entries)
        first, upto = entries[0][0], entries[-1][0]
        files: list[tuple[str, Any]] = []
        for i, (hour, rows) in enumerate(hour_slices(table)):
            for group, part in split_groups(rows):
                name = f"part-{first}-{i}-{group}.parquet"
                files.append(
                    (self.fs.path(plant_dir("changes", self.plant_id), partition_of(hour), name), part)
                )
        self._commit("changes", files, upto)
        self.cp.changes = upto
        self.cp.archived_changes += table.num_rows
        self.stats.entries += len(entries)
        self.stats.changes += table.num_rows
        if table.num_rows:
            self.stats.newest_ts = max(self.stats.newest_ts, table["ts_us"][-1].as_py() / 1e6)
        save_checkpoint(self.fs, self.plant_id, self.cp)

    def _commit(self, table: str, files: list[tuple[str, Any]], upto: str) -> None:
        """Name the files in the checkpoint, then write them (the caller moves the position and saves)."""
        self.cp.pending = Pending(table=table, files=[p for p, _t in files], upto=upto)
        save_checkpoint(self.fs, self.plant_id, self.cp)
        for path, part in files:
            data = parquet_bytes(part)
            self.fs.write_bytes(path, data)
            self.stats.files += 1
            self.stats.bytes += len(data)
        self.stats.flushes += 1
        self.cp.pending = None

    def archive_side_tables(self) -> None:
        """Demand events, audit entries and new plan versions (small; written when there are any)."""
        demand = self.source.demand_events(self.cp.demand, 10_000, None)
        if demand:
            self._write_side("demand", demand_table(demand), demand[0][0], demand[-1][0])
            self.cp.demand = demand[-1][0]
            save_checkpoint(self.fs, self.plant_id, self.cp)
        audit = self.source.audit_after(self.cp.audit, 10_000)
        if audit:
            self._write_side("audit", audit_table(audit), audit[0][0], audit[-1][0])
            self.cp.audit = audit[-1][0]
            save_checkpoint(self.fs, self.plant_id, self.cp)
        for v in self.source.plan_versions():
            if v <= self.cp.plan:
                continue
            path = self.fs.path(plant_dir("plans", self.plant_id), f"part-v{v:08d}.parquet")
            self._commit("plans", [(path, plan_table(self.source.get_plan(v)))], str(v))
            self.cp.plan = v
            save_checkpoint(self.fs, self.plant_id, self.cp)

    def _write_side(self, table: str, rows: Any, first: str, upto: str) -> None:
        date = partition_of(int(first.split("-")[0]) / 1000.0, hourly=False)
        path = self.fs.path(plant_dir(table, self.plant_id), date, f"part-{first}.parquet")
        self._commit(table, [(path, rows)], upto)

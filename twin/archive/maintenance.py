"""Upkeep of the archive: compaction of small files and retention, both safe against a crash midway.

*Compaction*: each flush writes one file per source hour it touched, so a follower flushing every few
seconds leaves many small files in an hour. Once an hour partition is ``compact_after_s`` older than the
newest archived change and holds at least ``min_files`` files, they are merged into one (sorted like any
file). The merge is recorded in the checkpoint first (target, sources, rows); after a crash it is either
finished (the target is whole and has every row: the sources are deleted) or undone (the target is
deleted, the sources kept) - never both kept, so no change is counted twice.

*Retention*: with ``retention_days`` set, date partitions older than that many days before the newest
archived change are deleted (changes, demand, audit; plans are kept: they are few).
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import uuid
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from twin.archive.checkpoint import Checkpoint, Compaction, save_checkpoint
from twin.archive.layout import ArchiveFs
from twin.archive.schema import group_of, hour_slices, parquet_bytes

__all__ = ["Maintenance", "MaintenanceOptions", "finish_compaction", "read_parquet"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenanceOptions:
    """When to merge small files and how long to keep data (None: forever)."""

    compact_after_s: float = 3600.0
    min_files: int = 4
    retention_days: float | None = None
    every_s: float = 60.0


def read_parquet(fs: ArchiveFs, path: str) -> pa.Table | None:
    """A whole file, or None (with a warning) when it is not a readable Parquet file."""
    if not fs.valid(path):
        log.warning("archive: skipping %s: not a whole Parquet file (partial or corrupt)", path)
        return None
    try:
        with fs.fs.open(path, "rb") as f:
            return pq.read_table(f)
    except (OSError, pa.ArrowException) as exc:
        log.warning("archive: skipping %s: %s", path, exc)
        return None


def finish_compaction(fs: ArchiveFs, job: Compaction) -> None:
    """Complete a recorded merge if its target is whole, else undo it (see the module docstring)."""
    table = read_parquet(fs, job.target) if fs.fs.exists(job.target) else None
    if table is not None and table.num_rows == job.rows:
        n = fs.delete(job.sources)
        log.warning("archive: finished an interrupted compaction into %s (%d sources removed)", job.target, n)
    else:
        fs.delete([job.target])
        log.warning("archive: undid an interrupted compaction (%s removed, sources kept)", job.target)


def _partition_end(path: str) -> float | None:
    """End (epoch s) of the hour partition holding ``path``, from its ``date=``/``hour=`` folders."""
    parts = dict(p.split("=", 1) for p in posixpath.dirname(path).split("/") if "=" in p)
    try:
        day = dt.datetime.strptime(parts["date"], "%Y-%m-%d").replace(tzinfo=dt.UTC)
        return day.timestamp() + (int(parts["hour"]) + 1) * 3600.0
    except (KeyError, ValueError):
        return None


class Maintenance:
    """Compaction and retention for one plant, run by the follower every ``every_s`` seconds."""

    def __init__(self, fs: ArchiveFs, plant_id: str, options: MaintenanceOptions) -> None:
        self.fs = fs
        self.plant_id = plant_id
        self.opts = options
        self._last = -1e18
        self.compacted = 0
        self.deleted = 0

    def due(self, now: float) -> bool:
        """True when the next upkeep run is due."""
        return now - self._last >= self.opts.every_s

    def run(self, cp: Checkpoint, newest_ts: float, now: float) -> Checkpoint:
        """Merge closed hours and apply retention; returns the (saved) checkpoint."""
        self._last = now
        if newest_ts <= 0:
            return cp
        cp = self.compact(cp, newest_ts - self.opts.compact_after_s)
        if self.opts.retention_days is not None:
            self.retain(newest_ts - self.opts.retention_days * 86400.0)
        return cp

    def compact(self, cp: Checkpoint, closed_before: float) -> Checkpoint:
        """Merge the files of every hour partition that ended before ``closed_before``."""
        by_dir: dict[tuple[str, str], list[str]] = defaultdict(list)
        for p in self.fs.files("changes", self.plant_id):
            by_dir[(posixpath.dirname(p), group_of(p) or "")].append(p)
        for (folder, group), files in sorted(by_dir.items()):
            end = _partition_end(files[0])
            if end is None or end > closed_before or len(files) < self.opts.min_files:
                continue
            cp = self._merge(cp, folder, files, group)
        return cp

    def _merge(self, cp: Checkpoint, folder: str, files: list[str], group: str) -> Checkpoint:
        tables = [(p, read_parquet(self.fs, p)) for p in files]
        good = [(p, t) for p, t in tables if t is not None]  # broken files stay where they are (skipped)
        if len(good) < 2:
            return cp
        merged = pa.concat_tables([t for _p, t in good])
        (_hour, merged), *_rest = hour_slices(merged)  # one hour: re-sorted as one file
        first = posixpath.basename(good[0][0]).split("-")[1:3]
        suffix = f"-{group}" if group else ""
        target = posixpath.join(folder, f"part-{'-'.join(first)}-c{uuid.uuid4().hex[:8]}{suffix}.parquet")
        cp.compaction = Compaction(target=target, sources=[p for p, _t in good], rows=merged.num_rows)
        save_checkpoint(self.fs, self.plant_id, cp)
        self.fs.write_bytes(target, parquet_bytes(merged))
        self.fs.delete(cp.compaction.sources)
        cp.compaction = None
        save_checkpoint(self.fs, self.plant_id, cp)
        self.compacted += len(good)
        return cp

    def retain(self, keep_after: float) -> int:
        """Delete date partitions that ended before ``keep_after``; returns the files removed."""
        n = 0
        for table in ("changes", "demand", "audit"):
            old = []
            for p in self.fs.files(table, self.plant_id):
                day = next((s[5:] for s in p.split("/") if s.startswith("date=")), None)
                if day is None:
                    continue
                end = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp() + 86400.0
                if end <= keep_after:
                    old.append(p)
            n += self.fs.delete(old)
        if n:
            log.info(
                "archive: retention removed %d file(s) older than %s",
                n,
                dt.datetime.fromtimestamp(keep_after, dt.UTC),
            )
        self.deleted += n
        return n

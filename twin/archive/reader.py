"""Reading the archive with DuckDB: the files of a time range (whole ones only), and a tag's history.

Only the hour partitions that overlap the asked range are opened (their ``date=``/``hour=`` folders say
which). Every file is checked once per reader (its size remembered): one that is not whole (a writer
killed mid-file on a store without renames, a copy cut short) is skipped with a warning, and the follower
rewrites its rows from the stream. DuckDB reads local paths directly and other fsspec paths through the
filesystem registered on its connection.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import threading
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from twin.archive.layout import ArchiveFs, plant_dir
from twin.archive.schema import CHANGE_SCHEMA, EVENT_TAGS, PLAN_SCHEMA, decode_value, group_of
from twin.errors import ArchiveError, ValidationError
from twin.model import Plant

__all__ = ["ArchiveReader", "HistoryPage", "HistoryRow"]

log = logging.getLogger(__name__)

_EMPTY = {"changes": CHANGE_SCHEMA, "plans": PLAN_SCHEMA}


class HistoryRow(NamedTuple):
    """One archived value of a tag."""

    id: str
    ts: float
    equipment: str
    tag: str
    value: Any
    quality: str


class HistoryPage(NamedTuple):
    """Values in a time range, in stream order, and the id to continue after (None: no more)."""

    rows: list[HistoryRow]
    next_after: str | None


def _hour_of(path: str) -> float | None:
    parts = dict(p.split("=", 1) for p in posixpath.dirname(path).split("/") if "=" in p)
    try:
        day = dt.datetime.strptime(parts["date"], "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp()
    except (KeyError, ValueError):
        return None
    return day + int(parts.get("hour", "0")) * 3600.0


class ArchiveReader:
    """Queries over one plant's archive (``plant_id`` None: the only plant archived there)."""

    def __init__(self, fs: ArchiveFs, plant_id: str | None = None, threads: int | None = None) -> None:
        self.fs = fs
        if plant_id is None:
            plants = fs.plants()
            if not plants:
                raise ArchiveError(
                    f"no archive at {fs.url}: run `twin archive --data-dir {fs.url}` on the twin"
                )
            if len(plants) > 1:
                raise ArchiveError(
                    f"{fs.url} holds archives of several plants ({', '.join(plants)}): pass --plant"
                )
            plant_id = plants[0]
        self.plant_id = plant_id
        self.threads = threads
        self._checked: dict[str, tuple[int, bool]] = {}
        self._plant: Plant | None = None
        self._db: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def plant(self) -> Plant:
        """The plant definition the follower stored beside the data."""
        if self._plant is None:
            raw = self.fs.read_bytes(self.fs.path(plant_dir("_state", self.plant_id), "plant.json"))
            if raw is None:
                raise ArchiveError(
                    f"{self.fs.url} has no archive of plant {self.plant_id!r}: "
                    "run `twin archive` on its twin first"
                )
            self._plant = Plant.model_validate_json(raw)
        return self._plant

    # ------------------------------------------------------------------ files
    def files(
        self, table: str, start: float | None = None, end: float | None = None, *, events_only: bool = False
    ) -> list[str]:
        """Whole files of ``table`` whose partition overlaps ``[start, end)`` (hour or day partitions);
        with ``events_only`` only the change files of event tags (:data:`~twin.archive.schema.EVENT_TAGS`)."""
        base = self.fs.path(plant_dir(table, self.plant_id))
        try:
            found = self.fs.fs.find(base, detail=True) if self.fs.fs.exists(base) else {}
        except OSError as exc:
            raise ArchiveError(f"cannot list {base}: {exc}") from exc
        span = 3600.0 if table == "changes" else 86400.0
        out = []
        for path, info in sorted(found.items()):
            name = posixpath.basename(path)
            if not (name.startswith("part-") and name.endswith(".parquet")):
                continue
            if events_only and group_of(name) == "s":
                continue
            hour = _hour_of(path)
            if hour is not None and start is not None and hour + span <= start:
                continue
            if hour is not None and end is not None and hour >= end:
                continue
            if self._whole(path, int(info.get("size") or 0)):
                out.append(path)
        return out

    def _whole(self, path: str, size: int) -> bool:
        seen = self._checked.get(path)
        if seen is not None and seen[0] == size:
            return seen[1]
        ok = self.fs.valid(path)
        if not ok:
            log.warning("archive: skipping %s: not a whole Parquet file (partial or corrupt)", path)
        self._checked[path] = (size, ok)
        return ok

    def skipped(self) -> list[str]:
        """Files this reader found broken and skipped."""
        return sorted(p for p, (_size, ok) in self._checked.items() if not ok)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A cursor (its own temporary tables and views) on this reader's in-memory DuckDB database, which
        keeps the Parquet footers it has read (``parquet_metadata_cache``) from one query to the next."""
        with self._lock:
            if self._db is None:
                db = duckdb.connect()
                db.execute("SET parquet_metadata_cache = true")
                if self.threads:
                    db.execute(f"SET threads = {int(self.threads)}")
                if not self.fs.local:
                    db.register_filesystem(self.fs.fs)
                self._db = db
            return self._db.cursor()

    def view(self, con: duckdb.DuckDBPyConnection, name: str, table: str, files: list[str]) -> None:
        """``name`` as a view over ``files`` (an empty table of the right columns when there are none)."""
        if not files:
            con.register(name, pa.Table.from_batches([], schema=_EMPTY.get(table, CHANGE_SCHEMA)))
            return
        uris = ", ".join("'" + self.fs.uri(p).replace("'", "''") + "'" for p in files)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{uris}])")

    def changes(
        self, con: duckdb.DuckDBPyConnection, start: float, end: float, tags: tuple[str, ...] | None = None
    ) -> None:
        """View ``ch``: the changes with source time in ``[start, end)`` (only ``tags`` if given), good,
        uncertain or stale (``bad`` values carry no information)."""
        events = tags is not None and set(tags) <= set(EVENT_TAGS)
        self.view(con, "ch_all", "changes", self.files("changes", start, end, events_only=events))
        where = "ts_us >= $lo AND ts_us < $hi AND quality <> 'bad'"
        if tags:
            where += " AND tag IN (" + ", ".join(f"'{t}'" for t in tags if t.isidentifier()) + ")"
        lo, hi = int(start * 1e6), int(min(end, 1e11) * 1e6)
        where = where.replace("$lo", str(lo)).replace("$hi", str(hi))
        con.execute(f"CREATE OR REPLACE TEMP VIEW ch AS SELECT * FROM ch_all WHERE {where}")

    # ------------------------------------------------------------------ history
    def history(
        self,
        equipment: str,
        tag: str | None,
        start: float,
        end: float,
        *,
        after: str | None = None,
        limit: int = 1000,
    ) -> HistoryPage:
        """Values of a tag (every tag of ``equipment`` if None) with source time in ``[start, end]``, in
        stream order, at most ``limit`` (whole entries are kept), continuing after the stream id ``after``."""
        if limit < 1:
            raise ValidationError("limit must be >= 1")
        a_ms, a_seq = (int(x) for x in after.split("-", 1)) if after else (-1, -1)
        for attempt in (1, 2):  # a compaction may replace files between listing and reading: list again
            try:
                return self._history(equipment, tag, start, end, a_ms, a_seq, limit)
            except duckdb.IOException as exc:
                if attempt == 2:
                    raise ArchiveError(f"cannot read the archive at {self.fs.url}: {exc}") from exc
        raise AssertionError("unreachable")

    def _history(
        self, equipment: str, tag: str | None, start: float, end: float, a_ms: int, a_seq: int, limit: int
    ) -> HistoryPage:
        con = self.connect()
        try:
            self.view(con, "ch_all", "changes", self.files("changes", start, end + 1e-6))
            base = [equipment, tag, tag, int(start * 1e6), int(end * 1e6)]
            rows = con.execute(_HISTORY_SQL, [*base, a_ms, a_ms, a_seq, limit + 1]).fetchall()
            more = len(rows) > limit
            if more:  # whole entries only: the entry cut by the limit starts the next page
                boundary = rows[limit][:2]
                rows = [r for r in rows[:limit] if r[:2] != boundary]
                if not rows:  # one entry holds more than `limit` values: it is the page
                    rows = con.execute(_ENTRY_SQL, [*base, boundary[0], boundary[1]]).fetchall()
        finally:
            con.close()
        out = [
            HistoryRow(f"{r[0]}-{r[1]}", r[3] / 1e6, r[4], r[5], decode_value(r[7], r[8], r[9]), r[6])
            for r in rows
        ]
        return HistoryPage(out, out[-1].id if more and out else None)


_COLUMNS = "entry_ms, entry_seq, pos, ts_us, equipment, tag, quality, kind, num, text"
_MATCH = "equipment = ? AND (? IS NULL OR tag = ?) AND ts_us >= ? AND ts_us <= ?"
_HISTORY_SQL = (
    f"SELECT {_COLUMNS} FROM ch_all WHERE {_MATCH} AND (entry_ms > ? OR (entry_ms = ? AND entry_seq > ?)) "
    "ORDER BY entry_ms, entry_seq, pos LIMIT ?"
)
_ENTRY_SQL = f"SELECT {_COLUMNS} FROM ch_all WHERE {_MATCH} AND entry_ms = ? AND entry_seq = ? ORDER BY pos"

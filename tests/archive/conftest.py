"""Helpers of the archive tests: what the archive holds, read straight from its Parquet files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def archived_keys(root: Path, plant_id: str) -> Counter[tuple[int, int, int]]:
    """How often each ``(entry_ms, entry_seq, pos)`` is in the finished change files of a plant."""
    files = sorted((root / "changes" / f"plant={plant_id}").rglob("part-*.parquet"))
    if not files:
        return Counter()
    t = pa.concat_tables([pq.read_table(f) for f in files])
    return Counter(
        zip(t["entry_ms"].to_pylist(), t["entry_seq"].to_pylist(), t["pos"].to_pylist(), strict=True)
    )


def stream_keys(entries: list[tuple[str, str, list[object]]]) -> Counter[tuple[int, int, int]]:
    """The same keys for change-stream entries ``(id, source, changes)``."""
    out: Counter[tuple[int, int, int]] = Counter()
    for sid, _src, changes in entries:
        ms, seq = (int(x) for x in sid.split("-"))
        for pos in range(len(changes)):
            out[(ms, seq, pos)] += 1
    return out

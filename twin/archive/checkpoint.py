"""The follower's persisted position: the last archived id of each stream, and the work in flight.

``_state/plant=P/checkpoint.json`` is rewritten atomically (temp file + rename) before and after each
flush. Before writing files it names them under ``pending``; once they are written the position moves on
and ``pending`` is cleared. A follower that was killed in between finds ``pending`` on its next start,
deletes those files (whole or partial) and reads the same entries from the stream again: no change is
lost and none is archived twice. A compaction is recorded the same way (``compaction``: the merged
file, its sources and its row count) and finished or undone on start.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, ValidationError

from twin.archive.layout import ArchiveFs, plant_dir
from twin.errors import ArchiveError

__all__ = ["FIRST_ID", "Checkpoint", "Compaction", "Pending", "id_key", "load_checkpoint", "save_checkpoint"]

#: The stream id before every entry (Redis streams; the store's ``streamids`` module says the same).
FIRST_ID = "0-0"


def id_key(stream_id: str) -> tuple[int, int]:
    """A stream id ``<ms>-<seq>`` as a sortable pair."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class Pending(BaseModel):
    """Files of a flush being written, and the stream position they bring the archive to."""

    table: str
    files: list[str]
    upto: str


class Compaction(BaseModel):
    """A merge of small files in flight."""

    target: str
    sources: list[str]
    rows: int


class Checkpoint(BaseModel):
    """Last archived position per stream (stream ids; plans by version)."""

    changes: str = FIRST_ID
    demand: str = FIRST_ID
    audit: str = FIRST_ID
    plan: int = 0
    pending: Pending | None = None
    compaction: Compaction | None = None
    #: Times the follower found entries trimmed from the stream before it could archive them.
    gaps: int = 0
    archived_changes: int = Field(default=0, description="changes archived by this checkpoint's writer")


def _path(fs: ArchiveFs, plant_id: str) -> str:
    return fs.path(plant_dir("_state", plant_id), "checkpoint.json")


def load_checkpoint(fs: ArchiveFs, plant_id: str) -> Checkpoint:
    """The saved checkpoint (a fresh one if none)."""
    raw = fs.read_bytes(_path(fs, plant_id))
    if raw is None:
        return Checkpoint()
    try:
        return Checkpoint.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ArchiveError(
            f"{_path(fs, plant_id)} is not a valid checkpoint ({exc.__class__.__name__}): restore it, "
            "or move it away to archive the stream again from its start"
        ) from exc


def save_checkpoint(fs: ArchiveFs, plant_id: str, cp: Checkpoint) -> None:
    """Write the checkpoint atomically."""
    fs.write_bytes(_path(fs, plant_id), cp.model_dump_json(indent=1).encode())

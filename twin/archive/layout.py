"""Where the archive keeps its files, on a local directory or any fsspec path, and how they are written.

Layout under the archive root (the same on a local disk, ``file://`` or an object store)::

    changes/plant=P/date=YYYY-MM-DD/hour=HH/part-<first id>-<n>-e.parquet   changes of event tags
    changes/plant=P/date=YYYY-MM-DD/hour=HH/part-<first id>-<n>-s.parquet   periodic samples
    demand/plant=P/date=YYYY-MM-DD/part-<first id>.parquet                       demand events
    audit/plant=P/date=YYYY-MM-DD/part-<first id>.parquet                        audit entries
    plans/plant=P/part-v<version>.parquet                                         plan versions (lots)
    _state/plant=P/checkpoint.json                                                last archived ids
    _state/plant=P/plant.json                                                     the plant definition

Partitions are Hive-style (``key=value``), so DuckDB, Spark or Trino read them as they are; the date and
hour are those of the PLC source time (UTC). A file is written under a temporary name and renamed (a
local or ``file://`` path), or put in one request (object stores), so a reader never sees half a file
under a final name; a file that is broken all the same (a disk that filled up, a copy cut short) fails
:meth:`ArchiveFs.valid` and readers skip it with a warning.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import os
import posixpath
import uuid
from collections.abc import Iterable
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import known_implementations, registry

from twin.errors import ArchiveError

__all__ = ["TABLES", "ArchiveFs", "partition_of", "plant_dir"]

log = logging.getLogger(__name__)

#: The archived tables (top-level folders).
TABLES = ("changes", "demand", "audit", "plans")
_MAGIC = b"PAR1"


def partition_of(ts: float, *, hourly: bool = True) -> str:
    """``date=YYYY-MM-DD/hour=HH`` (or just the date) of a UTC epoch time."""
    t = dt.datetime.fromtimestamp(max(0.0, ts), tz=dt.UTC)
    day = f"date={t:%Y-%m-%d}"
    return f"{day}/hour={t:%H}" if hourly else day


def plant_dir(table: str, plant_id: str) -> str:
    """``<table>/plant=<id>``: a plant's folder of one table, relative to the root."""
    return f"{table}/plant={plant_id}"


class ArchiveFs:
    """The archive's root on a filesystem: ``/data/archive``, ``file:///data/archive``, ``s3://b/p``."""

    def __init__(self, url: str, *, create: bool = True, **storage_options: Any) -> None:
        if not url:
            raise ArchiveError("the archive needs a data directory (--data-dir)")
        _check_driver(url)
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except ValueError as exc:
            raise ArchiveError(f"cannot open archive {url!r}: {exc}") from exc
        self.url = url
        self.fs: Any = fs
        self.root = str(root).rstrip("/") or "/"
        self.local = isinstance(fs, LocalFileSystem)
        if not create:
            return
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create archive {url!r}: {exc}") from exc

    def path(self, *parts: str) -> str:
        """An absolute path (in the filesystem's terms) under the root."""
        return posixpath.join(self.root, *parts)

    def uri(self, path: str) -> str:
        """What DuckDB opens for ``path``: the plain path locally, else ``protocol://path``."""
        if self.local:
            return path
        proto = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{proto}://{path}"

    # ------------------------------------------------------------------ writing
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file so that no reader sees it half written (temp name + rename locally)."""
        try:
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
            if not self.local:
                self.fs.pipe_file(path, data)
                return
            tmp = posixpath.join(posixpath.dirname(path), f".tmp-{uuid.uuid4().hex}")
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                _fsync(f)
            self.fs.mv(tmp, path)
        except OSError as exc:
            raise ArchiveError(f"cannot write {path}: {exc}") from exc

    def read_bytes(self, path: str) -> bytes | None:
        """A file's content, or None when it does not exist."""
        try:
            return bytes(self.fs.cat_file(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc

    def delete(self, paths: Iterable[str]) -> int:
        """Remove files (missing ones are fine); returns how many were there."""
        n = 0
        for p in paths:
            try:
                if self.fs.exists(p):
                    self.fs.rm_file(p)
                    n += 1
            except OSError as exc:
                raise ArchiveError(f"cannot delete {p}: {exc}") from exc
        return n

    # ------------------------------------------------------------------ listing
    def files(self, table: str, plant_id: str) -> list[str]:
        """Every finished Parquet file of a plant's table, sorted (temporary files are not listed)."""
        base = self.path(plant_dir(table, plant_id))
        try:
            found = self.fs.find(base) if self.fs.exists(base) else []
        except OSError as exc:
            raise ArchiveError(f"cannot list {base}: {exc}") from exc
        return sorted(
            str(p)
            for p in found
            if posixpath.basename(str(p)).startswith("part-") and str(p).endswith(".parquet")
        )

    def plants(self) -> list[str]:
        """Plant ids with archived changes or a stored plant definition."""
        out: set[str] = set()
        for table in ("changes", "_state"):
            base = self.path(table)
            if not self.fs.isdir(base):
                continue
            for p in self.fs.ls(base, detail=False):
                name = posixpath.basename(str(p).rstrip("/"))
                if name.startswith("plant="):
                    out.add(name[len("plant=") :])
        return sorted(out)

    def valid(self, path: str) -> bool:
        """True if ``path`` looks like a whole Parquet file (magic bytes at both ends)."""
        try:
            size = int(self.fs.size(path))
            if size < 12:
                return False
            with self.fs.open(path, "rb") as f:
                head = f.read(4)
                f.seek(size - 4)
                tail = f.read(4)
        except OSError:
            return False
        return bool(head == _MAGIC and tail == _MAGIC)

    def size(self, paths: Iterable[str]) -> int:
        """Total bytes of some files."""
        return sum(int(self.fs.size(p)) for p in paths)


def _check_driver(url: str) -> None:
    """A protocol whose fsspec driver is missing, as one clear error (fsspec would raise ImportError)."""
    proto = url.split("://", 1)[0] if "://" in url else "file"
    impl = known_implementations.get(proto)
    if proto in registry or impl is None:
        return  # loaded already, or unknown (url_to_fs says so)
    package = str(impl["class"]).split(".", 1)[0]
    if importlib.util.find_spec(package) is None:
        raise ArchiveError(f"cannot open archive {url!r}: {impl.get('err') or f'install {package}'}")


def _fsync(f: Any) -> None:
    fileno = getattr(f, "fileno", None)
    if fileno is None:
        return
    try:
        os.fsync(fileno())
    except (OSError, ValueError):
        log.debug("fsync not possible on %r", f)

"""``twin archive``: the follower that keeps every change of the stream in partitioned Parquet files.

It runs until Ctrl-C / SIGTERM (then flushes and exits 0), or with ``--once`` archives what the streams
hold now and exits. The data directory (``--data-dir``, ``TWIN_DATA_DIR``, default ``./data``) may be any
fsspec path (``file:///srv/twin``, ``s3://bucket/twin`` with its driver installed).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from twin.cli import app
from twin.cli.common import fail, open_store, print_json
from twin.cli.demoparts import say
from twin.store import TwinStore

__all__ = [
    "DATA_DIR_HELP",
    "archive",
    "archive_options",
    "data_dir_option",
    "local_data_dir",
    "start_archive_thread",
]

#: Where history lives unless told otherwise (relative to the working directory).
DEFAULT_DATA_DIR = "./data"
DATA_DIR_HELP = "Archive root: a directory or any fsspec URL (default ./data, or $TWIN_DATA_DIR)."


def data_dir_option() -> Any:
    """The ``--data-dir`` option every history command shares."""
    return typer.Option(DEFAULT_DATA_DIR, "--data-dir", envvar="TWIN_DATA_DIR", help=DATA_DIR_HELP)


def archive_options(
    flush_s: float, retention_days: float | None, compact_after_s: float, min_files: int
) -> Any:
    """Validated follower options (exit 2 naming the option on bad values)."""
    from twin.archive import FollowerOptions, MaintenanceOptions

    if flush_s <= 0:
        fail(f"--flush-s must be > 0 (got {flush_s})", code=2)
    if retention_days is not None and retention_days <= 0:
        fail(f"--retention-days must be > 0 (got {retention_days}); leave it out to keep everything", code=2)
    if compact_after_s < 0 or min_files < 2:
        fail("--compact-after-s must be >= 0 and --compact-min-files >= 2", code=2)
    return FollowerOptions(
        flush_s=flush_s,
        maintenance=MaintenanceOptions(
            compact_after_s=compact_after_s, min_files=min_files, retention_days=retention_days
        ),
    )


@app.command()
def archive(
    ctx: typer.Context,
    data_dir: str = data_dir_option(),
    once: bool = typer.Option(False, "--once", help="Archive what the streams hold now, then exit."),
    flush_s: float = typer.Option(5.0, "--flush-s", help="Write buffered changes at least this often (s)."),
    retention_days: float = typer.Option(
        None, "--retention-days", help="Delete data older than this many days (default: keep everything)."
    ),
    compact_after_s: float = typer.Option(
        3600.0, "--compact-after-s", help="Merge an hour's small files once it is this old (data time, s)."
    ),
    min_files: int = typer.Option(
        4, "--compact-min-files", help="Merge an hour once it has this many files."
    ),
    status: bool = typer.Option(
        False, "--status", help="Print each plant's archived position as JSON (exit 1 if there is none)."
    ),
) -> None:
    """Follow the change stream (and demand, audit, plans) into Parquet files, each change exactly once."""
    from twin.archive import ArchiveFs, Follower

    opts = archive_options(flush_s, retention_days, compact_after_s, min_files)
    fs = ArchiveFs(local_data_dir(data_dir))
    if status:
        _print_status(fs)
        return
    store = open_store(ctx)
    follower = Follower(store, fs, store.plant_id, opts)
    try:
        if once:
            follower.save_plant()
            n = follower.catch_up()
            follower.cp = follower.maintenance.run(follower.cp, follower.stats.newest_ts, 0.0)
            say(f"archived {n} entries ({follower.stats.changes} changes) into {fs.url}")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_a: stop.set())
        say(
            f"archive: following plant {store.plant_id} into {fs.url} "
            f"(after {follower.cp.changes}); Ctrl-C stops"
        )
        follower.run(stop)
        st = follower.stats
        say(
            f"archive stopped: {st.changes} changes in {st.files} files this run, "
            f"position {follower.cp.changes}"
        )
    finally:
        store.close()


def local_data_dir(data_dir: str) -> str:
    """A plain relative path made absolute (fsspec URLs pass as they are)."""
    return data_dir if "://" in data_dir else str(Path(data_dir).expanduser().resolve())


def start_archive_thread(redis_url: str, plant_id: str, data_dir: str) -> Callable[[], None]:
    """Run a follower in a thread of this process (``twin demo``); returns the function that stops it
    (flushing what is buffered)."""
    from twin.archive import ArchiveFs, Follower, FollowerOptions

    fs = ArchiveFs(data_dir)
    store = TwinStore.from_url(redis_url, plant_id)
    follower = Follower(store, fs, plant_id, FollowerOptions(flush_s=2.0))
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), name="archive", daemon=True)
    thread.start()

    def _stop() -> None:
        stop.set()
        thread.join(30)
        store.close()

    return _stop


def _print_status(fs: Any) -> None:
    from twin.archive.checkpoint import load_checkpoint

    plants = {}
    for pid in fs.plants():
        cp = load_checkpoint(fs, pid)
        files = fs.files("changes", pid)
        plants[pid] = {
            **cp.model_dump(exclude={"pending", "compaction"}),
            "files": len(files),
            "bytes": fs.size(files),
        }
    print_json({"data_dir": fs.url, "plants": plants})
    if not plants:
        raise typer.Exit(1)

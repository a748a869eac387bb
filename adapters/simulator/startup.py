"""Fast start-up of asyncua servers: the standard address space from a cached shelf.

``Server.init()`` fills the OPC UA standard address space (~tens of thousands of nodes) from generated
code: ~2 s per server on an idle machine, 8-10 s under load, almost all of the start-up time of a
simulated PLC. asyncua can instead load it lazily from a ``shelve`` file (``init(shelf_file=...)``), nodes
being unpickled only when first touched: ~0.2 s. But asyncua 2.1 only recognises an existing shelf if
``<path>`` or ``<path>.db`` is a file, and with the only dbm available in a plain CPython build
(``dbm.dumb``: ``<path>.dat``/``<path>.dir``) neither exists, so it silently rebuilds (and rewrites) the
shelf on every start, which is *slower* than no shelf. We therefore keep an empty marker file at
``<path>`` next to the dumb-dbm files.

The shelf is built once per asyncua/Python version into a per-user cache directory (by the first server
that needs it, which costs ~10 % more than a plain init), in a private temporary directory renamed into
place, so concurrent builders (processes or tasks) never see a half-written shelf. If the cached shelf
cannot be read, the server falls back to a plain ``init()``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import asyncua
from asyncua.server.server import Server

log = logging.getLogger(__name__)

_SHELF_NAME = "aspace"


def default_cache_dir() -> Path:
    """Where the shelf is cached: ``~/.cache/sdf-twin/asyncua-<version>-py<major><minor>``."""
    version = getattr(asyncua, "__version__", "unknown")
    try:
        base = Path.home() / ".cache"
    except RuntimeError:  # no home directory (some containers): a shared temp dir still saves time
        base = Path(tempfile.gettempdir())
    return base / "sdf-twin" / f"asyncua-{version}-py{sys.version_info[0]}{sys.version_info[1]}"


def cached_shelf(cache_dir: Path | None = None) -> Path | None:
    """The shelf path if a complete cached shelf exists, else None."""
    d = cache_dir or default_cache_dir()
    path = d / _SHELF_NAME
    return path if path.is_file() and path.with_name(_SHELF_NAME + ".dir").is_file() else None


async def _build(cache_dir: Path) -> Server:
    """A plain ``init()`` that also writes the shelf for later servers (best effort)."""
    server = Server()
    try:
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir.parent))
    except OSError as exc:  # a read-only home: no cache, just a slower start
        log.info("no asyncua shelf cache (%s)", exc)
        await server.init()
        return server
    try:
        await server.init(tmp / _SHELF_NAME)  # builds in memory, then dumps the shelf into tmp
        (tmp / _SHELF_NAME).touch()  # the marker asyncua looks for (see the module docstring)
        with contextlib.suppress(OSError):  # another builder won the race: its shelf is as good as ours
            tmp.rename(cache_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return server


async def init_server(cache_dir: Path | None = None, *, use_cache: bool = True) -> Server:
    """A new asyncua ``Server`` whose ``init()`` is done, from the cached shelf when there is one."""
    if not use_cache:
        server = Server()
        await server.init()
        return server
    d = cache_dir or default_cache_dir()
    shelf = cached_shelf(d)
    if shelf is None:
        return await _build(d)
    server = Server()
    try:
        await server.init(shelf)
    except Exception as exc:  # a damaged cache must not stop a PLC from starting; rebuild it next time
        log.warning("asyncua shelf %s unusable (%s); initialising without it", shelf, exc)
        shutil.rmtree(d, ignore_errors=True)
        server = Server()
        await server.init()
    return server


async def warm_cache(cache_dir: Path | None = None) -> Server | None:
    """Build the shelf if it is missing; returns the server built on the way (None if it was cached)."""
    d = cache_dir or default_cache_dir()
    if cached_shelf(d) is not None:
        return None
    return await _build(d)

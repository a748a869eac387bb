"""A bounded Redis-outage buffer between an ingest sink and the twin store.

When Redis is unreachable (killed, restarting, network cut) :class:`OutageBuffer` keeps every batch the
sink hands it, *in order*, up to ``max_changes`` changes, and answers the sink as if the write had
succeeded, so the sink keeps per-change history instead of coalescing. On the next write (or a
:meth:`flush`), once Redis answers again, the buffered batches are replayed oldest first, each as its own
pipeline (live hashes + one change-stream entry), then the new batch is written. So no change inside the
bound is lost, and the live hashes end at the newest value.

Past the bound the buffer refuses the batch with :class:`~twin.errors.StoreUnavailableError`; the sink then
keeps its own pending dict (latest value per tag, every overwrite counted as ``coalesced``), so memory stays
bounded by ``max_changes`` + the tag count and nothing is dropped silently.

Delivery is at-least-once: if Redis dies in the middle of a pipeline, the batch may be written twice
(the same values with the same source timestamps appear twice in the change stream).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from twin.changes import ChangeLike
from twin.errors import StoreUnavailableError

log = logging.getLogger(__name__)

#: Default bound: 100k changes is ~10 s of a 10k-tag plant changing every tag every second, and about
#: 20-30 MB of Python objects at most.
DEFAULT_MAX_CHANGES = 100_000


class _Writer(Protocol):
    async def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str: ...

    async def set_mapping_problems(
        self,
        endpoint: str,
        problems: Iterable[Mapping[str, Any]],
        tags: Iterable[tuple[str, str]] = (),
    ) -> None: ...


@dataclass
class BufferCounters:
    """What the buffer did (for logs, metrics and tests)."""

    outages: int = 0
    buffered_batches: int = 0
    buffered_changes: int = 0
    replayed_batches: int = 0
    replayed_changes: int = 0
    refused_batches: int = 0
    refused_changes: int = 0
    pending_changes: int = 0
    peak_pending_changes: int = 0
    last_outage_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready)."""
        return asdict(self)


class OutageBuffer:
    """Wraps a change writer (``AsyncTwinStore``); same ``write_changes`` signature, survives outages."""

    def __init__(self, store: _Writer, max_changes: int = DEFAULT_MAX_CHANGES) -> None:
        if max_changes < 1:
            raise ValueError("max_changes must be >= 1")
        self.store = store
        self.max_changes = max_changes
        self.counters = BufferCounters()
        self._queue: deque[tuple[list[ChangeLike], str]] = deque()
        self._lock = asyncio.Lock()
        self._outage_started: float | None = None

    @property
    def pending(self) -> int:
        """Changes buffered and not yet written."""
        return self.counters.pending_changes

    async def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str:
        """Write (after replaying anything buffered), or buffer while Redis is unreachable.

        Returns the change-stream entry id, or ``""`` when the batch was buffered. Raises
        :class:`StoreUnavailableError` only when the buffer is full (the caller keeps the batch).
        """
        if not changes:
            return ""
        async with self._lock:
            if self._queue:
                try:
                    await self._replay()
                except StoreUnavailableError:
                    return self._buffer(list(changes), source)
            try:
                sid = await self.store.write_changes(changes, source)
            except StoreUnavailableError as exc:
                self._begin_outage(exc)
                return self._buffer(list(changes), source)
            self._end_outage()
            return sid

    async def set_mapping_problems(
        self,
        endpoint: str,
        problems: Iterable[Mapping[str, Any]],
        tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Passed straight to the store (not buffered: the adapter retries a report until Redis takes it)."""
        await self.store.set_mapping_problems(endpoint, problems, tags)

    async def flush(self, timeout_s: float = 5.0, retry_s: float = 0.2) -> bool:
        """Replay what is buffered, retrying until ``timeout_s``; True when nothing is left."""
        deadline = time.monotonic() + timeout_s
        while True:
            async with self._lock:
                if not self._queue:
                    return True
                try:
                    await self._replay()
                    return True
                except StoreUnavailableError:
                    pass
            if time.monotonic() + retry_s > deadline:
                return False
            await asyncio.sleep(retry_s)

    # ----------------------------------------------------------------- internals
    def _buffer(self, batch: list[ChangeLike], source: str) -> str:
        c = self.counters
        if c.pending_changes + len(batch) > self.max_changes:
            c.refused_batches += 1
            c.refused_changes += len(batch)
            raise StoreUnavailableError(
                f"Redis unreachable and the outage buffer is full ({c.pending_changes} of "
                f"{self.max_changes} changes): coalescing to the latest value per tag"
            )
        self._queue.append((batch, source))
        c.buffered_batches += 1
        c.buffered_changes += len(batch)
        c.pending_changes += len(batch)
        c.peak_pending_changes = max(c.peak_pending_changes, c.pending_changes)
        return ""

    async def _replay(self) -> None:
        """Write buffered batches oldest first; stops (raising) at the first failure, keeping the rest."""
        c = self.counters
        while self._queue:
            batch, source = self._queue[0]
            try:
                await self.store.write_changes(batch, source)
            except StoreUnavailableError as exc:
                self._begin_outage(exc)
                raise
            self._queue.popleft()
            c.pending_changes -= len(batch)
            c.replayed_batches += 1
            c.replayed_changes += len(batch)
        self._end_outage()

    def _begin_outage(self, exc: Exception) -> None:
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            self.counters.outages += 1
            log.warning("Redis unreachable (%s): buffering up to %d changes", exc, self.max_changes)

    def _end_outage(self) -> None:
        if self._outage_started is not None:
            self.counters.last_outage_s = time.monotonic() - self._outage_started
            self._outage_started = None
            log.warning(
                "Redis back after %.1fs: %d changes replayed so far",
                self.counters.last_outage_s,
                self.counters.replayed_changes,
            )

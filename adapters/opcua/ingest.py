"""Batching ingest: one publish result -> one pass over its notifications -> one Redis write.

asyncua's standard handler spawns an asyncio task per notification and its iterator queue drops the
oldest entries past 1000. Here a :class:`BatchSubscription` overrides ``publish_callback`` (which the
client's publish loop awaits once per PublishResponse) and hands the whole ``DataChangeNotification`` to an
:class:`IngestSink`. The sink turns each item into a :class:`~twin.changes.Change` (quality from the
StatusCode and the tag's type/range check) and stores it in a dict keyed by tag: memory is bounded by the
number of tags, and a change overwritten before it was written is *counted* (``coalesced``), never dropped
silently. A single writer task swaps the dict out and writes it with ``AsyncTwinStore.write_changes``:
live hashes plus one change-stream entry, one round trip. When Redis keeps up that is one write per
publish cycle; when it does not, cycles merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from asyncua import ua
from asyncua.common.subscription import Subscription

from adapters.opcua.fastpath import FastDataChange
from adapters.opcua.mapping import ResolvedTag
from adapters.opcua.transforms import handle_checks
from adapters.opcua.values import BAD, Flag
from twin.changes import Change, ChangeLike
from twin.errors import StoreError

log = logging.getLogger(__name__)

_JSON_SCALARS = (int, float, str, bool)


# (client handle, value, StatusCode severity, source/server timestamp or None): what the sink takes
_Row = tuple[int, Any, int, float | None]
# (equipment, tag, value, quality, source timestamp): a Change's fields, as a plain tuple
_ChangeRow = tuple[str, str, Any, str, float]


def _decode_items(items: Sequence[ua.MonitoredItemNotification]) -> Iterator[_Row]:
    """asyncua's items as rows for :meth:`IngestSink._take`."""
    for item in items:
        dv = item.Value
        var = dv.Value
        sc = dv.StatusCode
        st = dv.SourceTimestamp or dv.ServerTimestamp
        yield (
            item.ClientHandle,
            var.Value if var is not None else None,
            (sc.value >> 30) if sc is not None else 0,
            st.timestamp() if st is not None else None,
        )


class ChangeWriter(Protocol):
    """What the sink writes to: :class:`twin.store.AsyncTwinStore` (``write_changes``)."""

    async def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str: ...


@dataclass
class IngestCounters:
    """Counters of one ingest pipeline (exposed for metrics and tests)."""

    publish_results: int = 0
    notifications: int = 0
    fast_decoded: int = 0
    changes_written: int = 0
    batches_written: int = 0
    coalesced: int = 0
    bad_values: int = 0
    uncertain_values: int = 0
    bad_status: int = 0
    uncertain_status: int = 0
    unknown_handles: int = 0
    store_errors: int = 0
    write_errors: int = 0
    stale_marks: int = 0

    def as_dict(self) -> dict[str, int]:
        """A plain dict (JSON-ready)."""
        return asdict(self)


class _Tag:
    """Hot-path view of one resolved tag: names and its checkers, nothing else (identity-hashed)."""

    __slots__ = ("check", "equipment", "name", "scalar")

    def __init__(self, equipment: str, name: str, check: Callable[[Any], Any]) -> None:
        self.equipment = equipment
        self.name = name
        self.set_check(check)

    def set_check(self, check: Callable[[Any], Any]) -> None:
        """Install a checker (and its scalar-only part, which the hot path calls for non-list values)."""
        self.check = check
        self.scalar = getattr(check, "scalar", check)


class _Input(_Tag):
    """A further monitored item of a tag derived from several nodes (``when`` rules).

    It hashes and compares as the tag's own :class:`_Tag`, so its changes coalesce into the same pending
    entry; only such tags pay for the ``__eq__`` (a plain tag keeps the identity hash).
    """

    __slots__ = ("tag",)

    def __init__(self, tag: _Tag, check: Callable[[Any], Any]) -> None:
        super().__init__(tag.equipment, tag.name, check)
        self.tag = tag

    def __hash__(self) -> int:
        return hash(self.tag)

    def __eq__(self, other: object) -> bool:
        return other is self.tag or (isinstance(other, _Input) and other.tag is self.tag)


def _json_safe(v: Any) -> Any:
    """A bad value is kept for diagnosis if it is a JSON scalar; anything else is stored as null."""
    if isinstance(v, _JSON_SCALARS):
        return v
    return None


class IngestSink:
    """Receives whole publish results, coalesces per tag, and writes batches from one writer task."""

    def __init__(self, store: ChangeWriter, source: str, *, retry_s: float = 0.5) -> None:
        self.store = store
        self.source = source
        self.retry_s = retry_s
        self.counters = IngestCounters()
        self.last_publish = time.monotonic()
        self._tags: list[_Tag | None] = []
        # One _Tag per (equipment, tag) for the sink's lifetime, so that pending changes (keyed by the
        # _Tag object: an identity hash) survive a remapping after a reconnect.
        self._tag_cache: dict[tuple[str, str], _Tag] = {}
        # Pending and last-written changes as plain ``(equipment, tag, value, quality, ts)`` tuples (a
        # Change costs a Python-level constructor call per notification), keyed by the tag.
        self._pending: dict[_Tag, _ChangeRow] = {}
        self._last: dict[_Tag, _ChangeRow] = {}
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- mapping
    def set_tags(self, tags: Sequence[ResolvedTag]) -> None:
        """Install a resolved mapping: client handles number ``rt.nodeids`` of every tag, in order.

        Pending changes are kept.
        """
        out: list[_Tag | None] = []
        for rt in tags:
            key = (rt.binding.equipment, rt.binding.tag.name)
            checks = handle_checks(
                rt.binding.tag, len(rt.rule_ids), rt.nodeid is not None, rt.enum_names, rt.unit
            )
            t = self._tag_cache.get(key)
            if t is None:
                t = self._tag_cache[key] = _Tag(key[0], key[1], checks[0])
            else:
                t.set_check(checks[0])
            out.append(t)
            out.extend(_Input(t, c) for c in checks[1:])
        self._tags = out

    @property
    def tag_count(self) -> int:
        """How many tags this sink mirrors."""
        return len(self._tags)

    # ----------------------------------------------------------------- hot path
    def on_publish(self) -> None:
        """Any publish response (data or keepalive) proves the session is alive."""
        self.last_publish = time.monotonic()
        self.counters.publish_results += 1

    def on_datachange(self, items: Sequence[ua.MonitoredItemNotification]) -> None:
        """Turn one DataChangeNotification's items into pending changes (no awaits, no tasks)."""
        self._take(_decode_items(items), len(items))

    def on_fast(self, items: Sequence[tuple[int, Any, int, float | None, float | None]]) -> None:
        """Like :meth:`on_datachange`, for items decoded by :mod:`adapters.opcua.fastpath`."""
        self.counters.fast_decoded += len(items)
        # src or srv or None: a zero (unset) timestamp means "now", as a missing one does
        self._take(((h, v, status >> 30, src or srv or None) for h, v, status, src, srv in items), len(items))

    def _take(self, rows: Iterable[_Row], n_items: int) -> None:
        """Pending changes from ``(client handle, value, status severity, timestamp or None)`` rows.

        Severity is the StatusCode's top two bits: 0 good, 1 uncertain, 2/3 bad. A value the tag's
        check rejects is stored as "bad" (JSON-safe), a bad status stores no value, a value its
        transform cannot place (an unknown code) is "uncertain" with the raw value; a row without a
        timestamp gets the time of this call.
        """
        tags = self._tags
        n_tags = len(tags)
        pending = self._pending
        c = self.counters
        flag = Flag
        coalesced = bad = bad_status = uncertain = unknown = unsure = 0
        now = time.time()
        for h, v, sev, ts in rows:
            if h >= n_tags or (t := tags[h]) is None:
                unknown += 1
                continue
            if sev > 1:
                q, cv, bad_status = "bad", None, bad_status + 1
            else:
                if sev:
                    q, uncertain = "uncertain", uncertain + 1
                else:
                    q = "good"
                cv = t.scalar(v) if type(v) is not list else t.check(v)
                if type(cv) is flag:
                    if cv is BAD:
                        q, cv, bad = "bad", _json_safe(v), bad + 1
                    else:
                        q, cv, unsure = cv.quality if q == "good" else q, _json_safe(cv.raw), unsure + 1
            if t in pending:
                coalesced += 1
            pending[t] = (t.equipment, t.name, cv, q, now if ts is None else ts)
        c.notifications += n_items
        c.coalesced += coalesced
        c.bad_values += bad
        c.uncertain_values += unsure
        c.bad_status += bad_status
        c.uncertain_status += uncertain
        c.unknown_handles += unknown
        if pending:
            self._wake.set()

    def on_values(self, values: Sequence[ua.DataValue]) -> None:
        """A full read of every tag (re-sync after (re)connect), in client-handle order."""
        items = []
        for i, dv in enumerate(values):
            m = ua.MonitoredItemNotification()
            m.ClientHandle = i
            m.Value = dv
            items.append(m)
        self.on_datachange(items)

    def mark_stale(self) -> int:
        """Mark every tag of this sink stale (last known value kept), written with the next batch."""
        # Notifications of the dead session still in flight must not overwrite the marks: until the next
        # session installs its mapping (set_tags), their handles are unknown (counted, then dropped).
        self._tags = []
        now = time.time()
        n = 0
        for t in self._tag_cache.values():
            prev = self._pending.get(t) or self._last.get(t)
            self._pending[t] = (
                t.equipment,
                t.name,
                prev[2] if prev else None,
                "stale",
                prev[4] if prev else now,
            )
            n += 1
        self.counters.stale_marks += n
        if n:
            self._wake.set()
        return n

    def last_written(self) -> dict[tuple[str, str], Change]:
        """The last change written per ``(equipment, tag)``."""
        return {(t.equipment, t.name): Change(*row) for t, row in self._last.items()}

    # ----------------------------------------------------------------- writer
    def start(self) -> None:
        """Start the writer task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name=f"ingest-writer {self.source}")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Flush what is pending (bounded wait), then stop the writer."""
        if self._task is None:
            return
        if self._pending:
            self._wake.set()
            try:
                await asyncio.wait_for(self.flush(), flush_timeout)
            except TimeoutError:
                log.warning("ingest %s: %d changes not flushed at stop", self.source, len(self._pending))
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def flush(self) -> None:
        """Wait until everything pending now has been written."""
        while self._pending:
            self._flushed.clear()
            self._wake.set()
            await self._flushed.wait()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                self._flushed.set()
                continue
            batch, self._pending = self._pending, {}
            try:
                await self.store.write_changes(list(batch.values()), self.source)
            except StoreError as exc:
                self.counters.store_errors += 1
                # Keep the batch (newer pending values win); memory stays bounded by the tag count.
                for t, ch in batch.items():
                    if t in self._pending:
                        self.counters.coalesced += 1
                    else:
                        self._pending[t] = ch
                log.warning(
                    "ingest %s: store write failed (%s); retrying in %.1fs", self.source, exc, self.retry_s
                )
                await asyncio.sleep(self.retry_s)
                self._wake.set()
                continue
            except Exception:  # a bug or an unencodable value: say so loudly, keep the writer alive
                self.counters.write_errors += len(batch)
                log.exception("ingest %s: %d changes could not be written", self.source, len(batch))
                continue
            c = self.counters
            c.changes_written += len(batch)
            c.batches_written += 1
            self._last.update(batch)
            if not self._pending:
                self._flushed.set()


class BatchSubscription(Subscription):  # type: ignore[misc]
    """A subscription whose publish callback hands each whole DataChangeNotification to a sink."""

    def __init__(self, session: Any, params: ua.CreateSubscriptionParameters, sink: IngestSink) -> None:
        # A (never used) handler puts the base class in callback mode: no iterator queue is created.
        super().__init__(session, params, handler=sink)
        self.sink = sink

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        """Called (awaited) by the client's publish loop once per PublishResponse."""
        self.last_publish_at = time.monotonic()
        self.sink.on_publish()
        msg = publish_result.NotificationMessage
        data = msg.NotificationData
        if not data:
            return
        self.last_sequence_number = int(msg.SequenceNumber)
        for notif in data:
            if type(notif) is FastDataChange:
                self.sink.on_fast(notif.items)
            elif isinstance(notif, ua.DataChangeNotification):
                self.sink.on_datachange(notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification):
                status = getattr(notif.Status, "name", notif.Status)
                log.info("subscription %s status change: %s", self.subscription_id, status)


def subscription_params(publish_interval_ms: float, keepalive_s: float) -> ua.CreateSubscriptionParameters:
    """Subscription parameters: the publishing interval and a keepalive about every ``keepalive_s``."""
    params = ua.CreateSubscriptionParameters()
    params.RequestedPublishingInterval = publish_interval_ms
    keepalive = max(1, round(keepalive_s * 1000 / max(publish_interval_ms, 1)))
    params.RequestedMaxKeepAliveCount = keepalive
    params.RequestedLifetimeCount = keepalive * 10
    params.MaxNotificationsPerPublish = 0  # no limit: one response carries the whole cycle
    params.PublishingEnabled = True
    params.Priority = 0
    return params


@dataclass(frozen=True, slots=True)
class ItemSettings:
    """Per monitored item: sampling interval (ms; None: the adapter's), deadband, queue size."""

    sampling_ms: float | None = None
    deadband: float | None = None
    percent: bool = False
    queue_size: int = 1


def _filter(s: ItemSettings) -> ua.DataChangeFilter | None:
    if not s.deadband:
        return None
    f = ua.DataChangeFilter()
    f.Trigger = ua.DataChangeTrigger.StatusValue
    f.DeadbandType = ua.DeadbandType.Percent if s.percent else ua.DeadbandType.Absolute
    f.DeadbandValue = float(s.deadband)
    return f


async def create_monitored_items(
    sub: Subscription,
    nodeids: Sequence[ua.NodeId],
    sampling_interval_ms: float,
    batch: int = 500,
    settings: Sequence[ItemSettings] | None = None,
) -> list[ua.StatusCode]:
    """Monitor ``nodeids`` (client handle ``i`` = ``nodeids[i]``), in calls of at most ``batch`` items.

    Each item uses ``settings[i]`` if given, else ``sampling_interval_ms`` and ``queuesize=1`` (latest value
    only, oldest discarded).
    """
    statuses: list[ua.StatusCode] = []
    default = ItemSettings()
    for start in range(0, len(nodeids), batch):
        params = ua.CreateMonitoredItemsParameters()
        params.SubscriptionId = sub.subscription_id
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        for i in range(start, min(start + batch, len(nodeids))):
            s = settings[i] if settings is not None else default
            req = ua.MonitoredItemCreateRequest()
            rv = ua.ReadValueId()
            rv.NodeId = nodeids[i]
            rv.AttributeId = ua.AttributeIds.Value
            req.ItemToMonitor = rv
            req.MonitoringMode = ua.MonitoringMode.Reporting
            mp = ua.MonitoringParameters()
            mp.ClientHandle = i
            mp.SamplingInterval = sampling_interval_ms if s.sampling_ms is None else s.sampling_ms
            mp.QueueSize = s.queue_size
            mp.DiscardOldest = True
            filt = _filter(s)
            if filt is not None:
                mp.Filter = filt
            req.RequestedParameters = mp
            params.ItemsToCreate.append(req)
        results = await sub.server.create_monitored_items(params)
        statuses.extend(r.StatusCode for r in results)
    return statuses

"""Live feed: a WebSocket streaming twin changes with server-side filters and exact resume.

One reader thread per app follows the change stream (XREAD BLOCK) and fans entries out to per-client
queues, so Redis sees one reader however many clients listen. A client connecting with ``after=<id>``
first catches up from the stream (XRANGE), then switches to the live queue, skipping what it already got:
every entry after ``after`` arrives exactly once. A client too slow for its queue is closed with code 4008
and the id to resume from; it loses nothing by reconnecting with that id (within the stream's retention).

Messages (JSON text): ``{"type": "hello", ...}`` once, then ``{"type": "changes", "id", "src", "changes":
[{"equipment", "tag", "value", "quality", "ts"}, ...]}`` per stream entry with at least one matching change,
and ``{"type": "warning", ...}`` if history older than ``after`` was already trimmed.
Auth: ``?token=...`` or the subprotocols ``["twin.v1", "bearer.<token>"]`` (browsers cannot set headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from twin.api.auth import Role
from twin.api.deps import ApiContext, authenticate
from twin.api.errors import ApiError
from twin.changes import Change
from twin.errors import StoreError, TwinError
from twin.store import TwinStore
from twin.store.streamids import FIRST_ID, exclusive, full_id, is_valid_id, parse_id

__all__ = [
    "BEARER_PREFIX",
    "CLOSE_BAD_REQUEST",
    "CLOSE_FORBIDDEN",
    "CLOSE_SHUTDOWN",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAUTHORIZED",
    "SUBPROTOCOL",
    "ChangeHub",
    "Entry",
    "Filter",
    "Subscriber",
    "build_filter",
    "changes_feed",
    "router",
]

log = logging.getLogger("twin.api.ws")
router = APIRouter(tags=["live"])

SUBPROTOCOL = "twin.v1"
BEARER_PREFIX = "bearer."
#: Close codes (4000-4999 are the application's; browsers expose code and reason).
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW, CLOSE_SHUTDOWN = (
    4401,
    4403,
    4422,
    4008,
    1001,
)


class Entry:
    """One change-stream entry, decoded once and serialised once for unfiltered clients."""

    __slots__ = ("__dict__", "changes", "id", "key", "src")

    def __init__(self, sid: str, src: str, changes: Sequence[Change]) -> None:
        self.id = sid
        self.key = parse_id(sid)
        self.src = src
        self.changes = changes

    @cached_property
    def full_json(self) -> str:
        """The message carrying every change of the entry."""
        return _message(self, self.changes)


def _message(entry: Entry, changes: Sequence[Change]) -> str:
    return json.dumps(
        {
            "type": "changes",
            "id": entry.id,
            "src": entry.src,
            "changes": [
                {
                    "equipment": c.equipment,
                    "tag": c.tag,
                    "value": c.value,
                    "quality": c.quality,
                    "ts": c.source_ts,
                }
                for c in changes
            ],
        },
        separators=(",", ":"),
    )


@dataclass
class Filter:
    """Server-side filter: equipment ids (from ``line``/``station``) and tag names; None matches all."""

    equipment: frozenset[str] | None = None
    tags: frozenset[str] | None = None

    @property
    def passes_all(self) -> bool:
        """True if nothing is filtered out."""
        return self.equipment is None and self.tags is None

    def render(self, entry: Entry) -> str | None:
        """The message for this client, or None if no change of the entry matches."""
        if self.passes_all:
            return entry.full_json
        eq, tags = self.equipment, self.tags
        picked = [
            c for c in entry.changes if (eq is None or c.equipment in eq) and (tags is None or c.tag in tags)
        ]
        if not picked:
            return None
        if len(picked) == len(entry.changes):
            return entry.full_json
        return _message(entry, picked)


@dataclass(eq=False)
class Subscriber:
    """A connected client's queue of entries."""

    queue: asyncio.Queue[Entry | None]
    overflowed: bool = False


@dataclass(eq=False)
class ChangeHub:
    """Follows the change stream in one thread and fans entries out to subscribers on the event loop."""

    store: TwinStore
    block_ms: int = 500
    queue_max: int = 5_000
    delivered: int = 0
    _subs: set[Subscriber] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client_count(self) -> int:
        """Connected subscribers."""
        return len(self._subs)

    def ensure_started(self) -> None:
        """Start the reader (once). Its cursor is fixed here, before any subscriber registers."""
        with self._lock:
            if self._thread is not None:
                return
            self._loop = asyncio.get_running_loop()
            info = self.store.change_stream_info()
            cursor = info["last_id"] or FIRST_ID
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(cursor,), name="twin-ws-hub", daemon=True)
            self._thread.start()

    def _run(self, cursor: str) -> None:
        while not self._stop.is_set():
            try:
                batch = self.store.read_changes(after=cursor, count=1000, block_ms=self.block_ms)
            except StoreError as exc:
                log.warning("live feed: %s; retrying in 1 s", exc)
                self._stop.wait(1.0)
                continue
            if not batch:
                continue
            cursor = batch[-1][0]
            entries = [Entry(sid, src, ch) for sid, src, ch in batch]
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # loop closing during shutdown
                    loop.call_soon_threadsafe(self._fanout, entries)

    def _fanout(self, entries: list[Entry]) -> None:
        for sub in list(self._subs):
            if sub.overflowed:
                continue
            for e in entries:
                if sub.queue.qsize() >= self.queue_max:  # the last slot is kept for the wake-up below
                    sub.overflowed = True
                    with contextlib.suppress(asyncio.QueueFull):
                        sub.queue.put_nowait(None)  # wake the handler; it closes with the resume id
                    break
                sub.queue.put_nowait(e)

    def subscribe(self) -> Subscriber:
        """Register a client (before it catches up, so nothing falls between catch-up and live)."""
        # one slot spare for the wake-up sentinel
        sub = Subscriber(queue=asyncio.Queue(maxsize=self.queue_max + 1))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a client."""
        self._subs.discard(sub)

    def stop(self) -> None:
        """Stop the reader and tell every client the server is going away."""
        self._stop.set()
        t = self._thread
        if t is not None:
            t.join(timeout=max(2.0, self.block_ms / 1000 * 4))
        self._thread = None
        for sub in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)


def _csv(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _known_csv(text: str, known: Container[str], field: str) -> list[str]:
    """The comma-separated ids in ``text``; refused (422, naming them all) if any is not ``known``."""
    wanted = _csv(text)
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ApiError(422, f"unknown {field}(s): {', '.join(unknown)}", field=field)
    return wanted


def build_filter(store: TwinStore, line: str | None, station: str | None, tag: str | None) -> Filter:
    """A filter from query parameters (comma-separated lists); unknown lines/stations are refused."""
    plant = store.plant()
    equipment: set[str] | None = None
    if line:
        lines = plant.line_by_id()
        wanted = _known_csv(line, lines, "line")
        equipment = {e.id for w in wanted for e in lines[w].equipment}
    if station:
        wanted = _known_csv(station, plant.equipment_by_id(), "station")
        equipment = set(wanted) if equipment is None else equipment & set(wanted)
    tags = frozenset(_csv(tag)) if tag else None
    return Filter(equipment=frozenset(equipment) if equipment is not None else None, tags=tags)


def _token(ws: WebSocket) -> tuple[str | None, str | None]:
    """The token (query parameter or ``bearer.<token>`` subprotocol) and the subprotocol to accept."""
    offered: list[str] = list(ws.scope.get("subprotocols") or [])
    token = ws.query_params.get("token")
    chosen: str | None = SUBPROTOCOL if SUBPROTOCOL in offered else None
    for p in offered:
        if p.startswith(BEARER_PREFIX):
            token = token or p[len(BEARER_PREFIX) :]
            chosen = chosen or p  # a browser insists on one of its offers being echoed
    return token, chosen


@router.websocket("/api/v1/ws/changes")
async def changes_feed(ws: WebSocket) -> None:
    """Stream twin changes. Query: ``after`` (stream id to resume after), ``line``, ``station``, ``tag``
    (comma-separated lists), ``token``."""
    ctx: ApiContext = ws.app.state.ctx
    token, subprotocol = _token(ws)
    await ws.accept(subprotocol=subprotocol)
    try:
        who = authenticate(ctx, token, Role.VIEWER, ws.client.host if ws.client else "unknown")
        flt = build_filter(
            ctx.store, ws.query_params.get("line"), ws.query_params.get("station"), ws.query_params.get("tag")
        )
        after = ws.query_params.get("after")
        if after is not None and after not in ("$", "") and not is_valid_id(after):
            raise ApiError(
                422, f"after must be a stream id like 1700000000000-0, got {after!r}", field="after"
            )
    except ApiError as exc:
        code = {401: CLOSE_UNAUTHORIZED, 403: CLOSE_FORBIDDEN}.get(exc.status, CLOSE_BAD_REQUEST)
        await ws.send_text(json.dumps({"type": "error", "error": {"code": exc.code, "message": exc.message}}))
        await ws.close(code=code, reason=exc.message[:120])
        return
    except TwinError as exc:
        await ws.close(code=1011, reason=str(exc)[:120])
        return
    hub: ChangeHub = ctx.hub
    try:
        hub.ensure_started()
    except TwinError as exc:  # Redis unreachable: say so, the client retries
        await ws.close(code=1011, reason=str(exc)[:120])
        return
    sub = hub.subscribe()
    closed = anyio.Event()

    async def watch_disconnect() -> None:
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        closed.set()
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(None)  # wake the sender

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await _serve(ctx, ws, hub, sub, flt, after, who.name, closed)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # client went away mid-send
    except TwinError as exc:  # Redis went away during catch-up: the client resumes with its last id
        with contextlib.suppress(Exception):
            await ws.close(code=1011, reason=str(exc)[:120])
    finally:
        hub.unsubscribe(sub)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


async def _serve(
    ctx: ApiContext,
    ws: WebSocket,
    hub: ChangeHub,
    sub: Subscriber,
    flt: Filter,
    after: str | None,
    who: str,
    closed: anyio.Event,
) -> None:
    store: TwinStore = ctx.store
    info = await anyio.to_thread.run_sync(store.change_stream_info)
    last_sent: tuple[int, int]
    last_id: str
    if after in (None, "", "$"):
        last_id = info["last_id"] or FIRST_ID
    else:
        assert after is not None
        last_id = full_id(after)
        first, newest = info["first_id"], info["last_id"] or FIRST_ID
        if parse_id(last_id) > parse_id(newest):  # e.g. an id from before a Redis reset: nothing to skip
            await ws.send_text(
                json.dumps(
                    {
                        "type": "warning",
                        "code": "ahead",
                        "message": f"after={last_id} is newer than the stream's last entry {newest}; "
                        "streaming from there",
                        "last_id": newest,
                    }
                )
            )
            last_id = newest
        trimmed = first is not None and parse_id(first) > parse_id(last_id)
        if trimmed and info["length"] >= 0.9 * info["maxlen"]:
            await ws.send_text(
                json.dumps(
                    {
                        "type": "warning",
                        "code": "retention",
                        "message": f"the stream was trimmed: the oldest entry still held is {first}",
                        "first_id": first,
                    }
                )
            )
    await ws.send_text(
        json.dumps({"type": "hello", "user": who, "after": last_id, "last_id": info["last_id"]})
    )
    last_sent = parse_id(last_id)
    # catch up from the stream (only when resuming)
    if after not in (None, "", "$"):
        while not closed.is_set():
            batch = await anyio.to_thread.run_sync(store.change_range, exclusive(last_id), "+", 500)
            if not batch:
                break
            for sid, src, changes in batch:
                e = Entry(sid, src, changes)
                text = flt.render(e)
                if text is not None:
                    await ws.send_text(text)
                    hub.delivered += 1
                last_id, last_sent = sid, e.key
    # live
    while not closed.is_set():
        item = await sub.queue.get()
        if item is None:
            if closed.is_set():
                return
            if sub.overflowed:
                await ws.close(code=CLOSE_TOO_SLOW, reason=f"too slow: reconnect with after={last_id}")
            else:
                await ws.close(code=CLOSE_SHUTDOWN, reason="server shutting down")
            return
        if item.key <= last_sent:
            continue  # already sent during catch-up
        text = flt.render(item)
        if text is not None:
            await ws.send_text(text)
            hub.delivered += 1
        last_id, last_sent = item.id, item.key

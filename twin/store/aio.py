"""The asyncio twin store: the hot path of the adapters and the API's live feed."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twin.errors import NotFoundError, StoreError, StoreUnavailableError
from twin.store.cluster import async_cluster_client, is_cluster_url
from twin.store.keys import Change, Keys, decode_changes, encode_changes, encode_value
from twin.store.sync import DEFAULT_STREAM_MAXLEN

_QUALITIES = frozenset({"good", "uncertain", "bad", "stale"})
_encode_str = json.encoder.encode_basestring_ascii


def _encode_value_fast(value: Any, quality: str, ts: float, now: float) -> str:
    """Exactly :func:`encode_value`'s output, built without ``json.dumps`` for the common value types.

    The hot path of the adapters; ``value`` is already finite if it is a float.
    """
    t = type(value)
    if t is float or t is int:
        v = repr(value)
    elif t is str:
        v = _encode_str(value)
    elif value is None:
        v = "null"
    else:
        return encode_value(value, quality, ts, now)
    if quality not in _QUALITIES or (type(ts) is not float and type(ts) is not int):
        return encode_value(value, quality, ts, now)
    return f'[{v},"{quality}",{ts!r},{now!r}]'


class AsyncTwinStore:
    """Async twin store for one plant, handed an ``redis.asyncio`` client and the equipment -> line map.

    The map is passed in (from the plant the caller already holds) so that the hot path does no lookups.
    """

    def __init__(
        self,
        client: Any,
        plant_id: str,
        equipment_lines: Mapping[str, str],
        *,
        stream_maxlen: int = DEFAULT_STREAM_MAXLEN,
    ) -> None:
        self.client = client
        self.keys = Keys(plant_id)
        self.stream_maxlen = stream_maxlen
        self._eq_line = dict(equipment_lines)
        self._live_key = {eq: self.keys.live(line, eq) for eq, line in self._eq_line.items()}

    @classmethod
    def from_url(
        cls, url: str, plant_id: str, equipment_lines: Mapping[str, str], **kw: Any
    ) -> AsyncTwinStore:
        """Connect to ``redis://host:port/db``, or a cluster: ``redis+cluster://host:port[,host:port]``."""
        client: Any
        if is_cluster_url(url):
            client = async_cluster_client(url, socket_timeout=10)
        else:
            client = aredis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
        return cls(client, plant_id, equipment_lines, **kw)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def write_changes(
        self, changes: Sequence[Change | tuple[str, str, Any, str, float]], source: str = ""
    ) -> str:
        """One pipeline: live hashes for every change and one change-stream entry. Returns the entry id.

        Non-finite floats are stored as ``null`` with quality ``bad``.
        """
        if not changes:
            return ""
        now = time.time()
        stamp = f"{now:.6f}"
        per_key: dict[str, dict[str, str]] = {}
        clean: list[tuple[str, str, Any, str, float]] = []
        for eq, tag, value, quality, ts in changes:
            if isinstance(value, float) and not math.isfinite(value):
                value, quality = None, "bad"
            clean.append((eq, tag, value, quality, ts))
            try:
                key = self._live_key[eq]
            except KeyError:
                raise NotFoundError(f"unknown equipment {eq!r}") from None
            fields = per_key.get(key)
            if fields is None:
                fields = per_key[key] = {"_updated": stamp}
            fields[tag] = _encode_value_fast(value, quality, ts, now)
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, mapping in per_key.items():
                pipe.hset(key, mapping=mapping)
            pipe.xadd(
                self.keys.changes,
                {"src": source, "d": encode_changes(clean)},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
            res = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailableError(f"Redis unreachable while writing live state: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis error while writing live state: {exc}") from exc
        return str(res[-1])

    async def read_changes(
        self, after: str = "$", count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, str, list[Change]]]:
        """Change-stream entries after ``after``: ``(id, source, changes)``."""
        try:
            res = await self.client.xread({self.keys.changes: after}, count=count, block=block_ms)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailableError(f"Redis unreachable while reading changes: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis error while reading changes: {exc}") from exc
        return [
            (sid, f.get("src", ""), decode_changes(f["d"])) for _s, entries in res or [] for sid, f in entries
        ]

    async def writeback_enabled(self) -> bool:
        """The global write-back kill switch."""
        try:
            return bool(await self.client.get(self.keys.writeback) != "off")
        except RedisError as exc:
            raise StoreError(f"Redis error while reading the write-back switch: {exc}") from exc

    async def append_audit(
        self, actor: str, action: str, detail: dict[str, Any] | None = None, result: str = "ok"
    ) -> str:
        """Record who did what, when, and with which result."""
        try:
            sid = await self.client.xadd(
                self.keys.audit,
                {
                    "actor": actor,
                    "action": action,
                    "detail": json.dumps(detail or {}, default=str),
                    "result": result,
                    "ts": f"{time.time():.3f}",
                },
                maxlen=100_000,
                approximate=True,
            )
        except RedisError as exc:
            raise StoreError(f"Redis error while writing the audit log: {exc}") from exc
        return str(sid)

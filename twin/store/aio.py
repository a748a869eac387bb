"""The asyncio twin store: the hot path of the adapters and the API's live feed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import NoScriptError, ResponseError

from twin.changes import ChangeLike
from twin.store.cluster import async_cluster_client, is_cluster_url
from twin.store.commands import (
    AUDIT_MAXLEN,
    DEFAULT_STREAM_MAXLEN,
    ChangeEntry,
    MappingProblemRow,
    audit_fields,
    decode_mapping_problems,
    decode_xread,
    mapping_problem_writes,
    queue_live_writes,
    queue_mapping_problems,
    writeback_enabled,
)
from twin.store.encoding import encode_batch
from twin.store.errors import translate_errors
from twin.store.keys import Keys

__all__ = ["WRITE_SCRIPT", "WRITE_SCRIPT_SHA", "AsyncTwinStore", "pack_live_writes"]


#: Writes one batch atomically, answering once: ``HSET`` per key, then the change-stream ``XADD``.
#: ARGV: stream, maxlen, source, data, then per key: key, field count, field, value, ...
WRITE_SCRIPT = """
local n = #ARGV
local i = 5
while i <= n do
  local nf = tonumber(ARGV[i + 1])
  redis.call('HSET', ARGV[i], unpack(ARGV, i + 2, i + 1 + 2 * nf))
  i = i + 2 + 2 * nf
end
return redis.call('XADD', ARGV[1], 'MAXLEN', '~', ARGV[2], '*', 'src', ARGV[3], 'd', ARGV[4])
"""
WRITE_SCRIPT_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()


def pack_live_writes(
    per_key: Mapping[str, Mapping[str, str]],
    stream: str,
    maxlen: int,
    source: str,
    data: str,
    *,
    script: str | None = None,
) -> bytes | None:
    """One ``EVALSHA`` of :data:`WRITE_SCRIPT` (or ``EVAL`` of ``script``) for a batch, as RESP.

    redis-py packs every argument separately (type checks, an encode, a few small bytes objects each) and
    a pipeline of one ``HSET`` per key answers once per key; here the whole batch becomes one string, one
    ``encode`` and one reply. Lengths are character counts, so this only holds for ASCII text: anything
    else returns ``None`` and the caller uses redis-py's pipeline. Keys, tag names and ids are ASCII by
    the config's patterns, values are JSON with ``ensure_ascii``.
    """
    ml = str(maxlen)
    nargs = 4 + sum(2 + 2 * len(f) for f in per_key.values())
    head = ("EVAL", script) if script is not None else ("EVALSHA", WRITE_SCRIPT_SHA)
    parts: list[str] = [f"*{3 + nargs}\r\n"]
    add = parts.append
    for a in (*head, "0", stream, ml, source, data):
        add(f"${len(a)}\r\n{a}\r\n")
    for key, fields in per_key.items():
        nf = str(len(fields))
        add(f"${len(key)}\r\n{key}\r\n${len(nf)}\r\n{nf}\r\n")
        for f, v in fields.items():
            add(f"${len(f)}\r\n{f}\r\n${len(v)}\r\n{v}\r\n")
    payload = "".join(parts)
    if not payload.isascii():
        return None
    return payload.encode("ascii")


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
        # A plain (non-cluster, pooled) client takes each batch as one script call packed here, skipping
        # redis-py's per-argument packing and per-key replies, the biggest per-change costs of ingest.
        self._packable = isinstance(client, aredis.Redis) and getattr(client, "connection", None) is None

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

    async def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str:
        """Live hashes for every change and one change-stream entry, in one round trip. Returns the entry id.

        One script call (:func:`pack_live_writes`) on a plain client, a pipeline on a cluster or for
        non-ASCII text. Non-finite floats are stored as ``null`` with quality ``bad``.
        """
        if not changes:
            return ""
        per_key, data = encode_batch(changes, self._live_key, time.time())
        with translate_errors("writing live state"):
            args = (per_key, self.keys.changes, self.stream_maxlen, source, data)
            packed = self._packable and pack_live_writes(*args)
            if packed:
                try:
                    return str(await self._send_packed(packed))
                except NoScriptError:  # a restarted or flushed Redis forgot the script: EVAL loads it again
                    return str(await self._send_packed(pack_live_writes(*args, script=WRITE_SCRIPT) or b""))
            pipe = self.client.pipeline(transaction=False)
            queue_live_writes(pipe, *args)
            res = await pipe.execute()
        return str(res[-1])

    async def _send_packed(self, payload: bytes) -> Any:
        """Send one pre-packed command on a pooled connection and return its reply (an error reply raises)."""
        pool = self.client.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(payload, check_health=False)
            return await conn.read_response()
        except ResponseError:
            raise  # the reply was read: the connection is in a clean state
        except BaseException:
            await conn.disconnect()  # a reply may be left unread: never hand this connection out again
            raise
        finally:
            await pool.release(conn)

    async def read_changes(
        self, after: str = "$", count: int = 1000, block_ms: int | None = None
    ) -> list[ChangeEntry]:
        """Change-stream entries after ``after``: ``(id, source, changes)``."""
        with translate_errors("reading changes"):
            return decode_xread(
                await self.client.xread({self.keys.changes: after}, count=count, block=block_ms)
            )

    async def writeback_enabled(self) -> bool:
        """The global write-back kill switch (``StoreUnavailableError`` if Redis is down, as sync)."""
        with translate_errors("reading the write-back switch"):
            return writeback_enabled(await self.client.get(self.keys.writeback))

    async def append_audit(
        self, actor: str, action: str, detail: dict[str, Any] | None = None, result: str = "ok"
    ) -> str:
        """Record who did what, when, and with which result."""
        fields = audit_fields(actor, action, detail, result, time.time())
        with translate_errors("writing the audit log"):
            return str(await self.client.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True))

    async def set_mapping_problems(
        self,
        endpoint: str,
        problems: Iterable[Mapping[str, Any]],
        tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record an adapter's mapping problems; its other ``(equipment, tag)`` in ``tags`` are cleared."""
        to_set, to_delete = mapping_problem_writes(endpoint, problems, tags, time.time())
        with translate_errors("writing mapping problems"):
            pipe = self.client.pipeline(transaction=False)
            queue_mapping_problems(pipe, self.keys.mapping_problems, to_set, to_delete)
            await pipe.execute()

    async def mapping_problems(self) -> list[MappingProblemRow]:
        """The tags the adapters report they cannot mirror as bound, sorted by equipment and tag."""
        with translate_errors("reading mapping problems"):
            return decode_mapping_problems(await self.client.hgetall(self.keys.mapping_problems))

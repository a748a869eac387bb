"""The synchronous twin store: plant graph, live state, change feed, demand, plans, audit, kill switch.

The plant and its graph come from :class:`~twin.store.graphstore.GraphStore`. What each command sends and
how its reply is read is shared with the async store (:mod:`twin.store.encoding`,
:mod:`twin.store.commands`), and so is the error translation (:mod:`twin.store.errors`); this module only
issues the commands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import redis
from redis.exceptions import WatchError

from twin.changes import STALE, Change, ChangeLike
from twin.errors import NotFoundError, StoreError, ValidationError
from twin.model import Equipment, Plan
from twin.store.cluster import cluster_client, is_cluster_url
from twin.store.commands import (
    AUDIT_MAXLEN,
    DEMAND_EVENTS_MAXLEN,
    WRITEBACK_OFF,
    WRITEBACK_ON,
    ChangeEntry,
    MappingProblemRow,
    audit_fields,
    decode_audit,
    decode_entries,
    decode_mapping_problems,
    decode_time_scale,
    decode_xread,
    demand_event_fields,
    mapping_problem_writes,
    parse_quantity,
    queue_live_writes,
    queue_mapping_problems,
    stream_info,
    writeback_enabled,
)
from twin.store.encoding import UPDATED_FIELD, encode_batch, live_tags, worst_quality
from twin.store.errors import translate_errors
from twin.store.graphstore import GraphStore
from twin.store.streamids import FIRST_ID

__all__ = ["TwinStore"]


def _status_row(e: Equipment, raw: Mapping[str, str]) -> dict[str, Any]:
    """One ``twin status`` row from an equipment's live hash (quality: its worst tag's, stale if empty)."""
    row: dict[str, Any] = {"id": e.id, "type": e.type.value, "line": e.line}
    tags = live_tags(raw)
    for tag, (value, _q, _ts) in tags.items():
        row[tag] = value
    row.setdefault("state", None)
    row["quality"] = worst_quality((q for _v, q, _ts in tags.values()), "good" if raw else STALE)
    row["updated"] = float(raw[UPDATED_FIELD]) if UPDATED_FIELD in raw else None
    return row


class TwinStore(GraphStore):
    """The twin in Redis, built around a client it is handed (``redis.Redis`` or ``RedisCluster``).

    Strings are decoded (the client must be created with ``decode_responses=True``; :meth:`from_url`
    does that).
    """

    @classmethod
    def from_url(cls, url: str, plant_id: str | None = None, **kw: Any) -> TwinStore:
        """Connect to ``redis://host:port/db`` (or ``rediss://``), or a cluster: ``redis+cluster://h:p[,h:p]``."""
        with translate_errors(f"connecting to {url}"):
            try:
                if is_cluster_url(url):
                    client: Any = cluster_client(url, socket_timeout=10)
                else:
                    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
            except (ValueError, TypeError) as exc:  # redis-py's URL parser: bad port, bad query parameter
                raise StoreError(f"bad Redis URL {url!r}: {exc}") from exc
        return cls(client, plant_id, **kw)

    # ----------------------------------------------------------------- live state
    def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str:
        """Write one batch: live hashes and one change-stream entry, in one pipeline. Returns the entry id.

        Values that cannot be JSON (NaN, infinity) are stored with quality ``bad`` and value ``null``,
        never as good values.
        """
        if not changes:
            return ""
        per_key, data = encode_batch(changes, self._live_keys(), time.time())
        with translate_errors("writing live state"):
            pipe = self.client.pipeline(transaction=False)
            queue_live_writes(pipe, per_key, self.keys.changes, self.stream_maxlen, source, data)
            res = pipe.execute()
        return str(res[-1])

    def mark_stale(self, equipment: Iterable[str], source: str = "") -> int:
        """Mark every tag of the given equipment stale (value kept); returns how many tags were marked."""
        changes: list[Change] = []
        now = time.time()
        for eq in equipment:
            for tag, (value, _q, ts) in self.read_tags(eq).items():
                changes.append(Change(eq, tag, value, STALE, ts or now))
        self.write_changes(changes, source=source)
        return len(changes)

    def read_tags(self, equipment: str) -> dict[str, tuple[Any, str, float]]:
        """Live tags of one equipment: tag -> ``(value, quality, source_ts)``."""
        with translate_errors(f"reading {equipment}"):
            raw = self.client.hgetall(self.keys.live(self.line_of(equipment), equipment))
        return live_tags(raw)

    def _live_hashes(self, eqs: Sequence[Equipment]) -> list[dict[str, str]]:
        with translate_errors("reading live state"):
            pipe = self.client.pipeline(transaction=False)
            for e in eqs:
                pipe.hgetall(self.keys.live(e.line, e.id))
            return list(pipe.execute())

    def status(self, line: str | None = None) -> list[dict[str, Any]]:
        """Every piece of equipment with its live values (the ``twin status --json`` rows).

        Each row has ``id, type, line, state, quality, updated`` and one key per live tag. ``quality`` is
        the worst quality among its tags (``stale`` if it has no live data yet).
        """
        eqs = [e for e in self.plant().equipment() if line is None or e.line == line]
        return [_status_row(e, raw) for e, raw in zip(eqs, self._live_hashes(eqs), strict=True)]

    def quality_counts(self) -> dict[str, int]:
        """How many live tags have each quality, plus ``missing``: defined tags with no live value yet."""
        eqs = self.plant().equipment()
        out = {"good": 0, "uncertain": 0, "bad": 0, "stale": 0, "missing": 0}
        for e, raw in zip(eqs, self._live_hashes(eqs), strict=True):
            tags = live_tags(raw)
            for _v, q, _ts in tags.values():
                out[q] = out.get(q, 0) + 1
            out["missing"] += max(0, len(e.tags()) - len(tags))
        return out

    # ----------------------------------------------------------------- mapping problems
    def set_mapping_problems(
        self,
        endpoint: str,
        problems: Iterable[Mapping[str, Any]],
        tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record an adapter's mapping problems; its other ``(equipment, tag)`` in ``tags`` are cleared.

        Each problem is a mapping with ``equipment, tag, node, problem`` (and ``fatal``).
        """
        to_set, to_delete = mapping_problem_writes(endpoint, problems, tags, time.time())
        with translate_errors("writing mapping problems"):
            pipe = self.client.pipeline(transaction=False)
            queue_mapping_problems(pipe, self.keys.mapping_problems, to_set, to_delete)
            pipe.execute()

    def mapping_problems(self, line: str | None = None) -> list[MappingProblemRow]:
        """The tags the adapters report they cannot mirror as bound, sorted by equipment and tag."""
        with translate_errors("reading mapping problems"):
            raw = self.client.hgetall(self.keys.mapping_problems)
        rows = decode_mapping_problems(raw)
        if line is None:
            return rows
        lines = {e.id: e.line for e in self.plant().equipment()}
        return [r for r in rows if lines.get(r["equipment"]) == line]

    def clear_mapping_problems(self) -> None:
        """Forget every reported mapping problem (a new plant definition: the adapters report afresh)."""
        with translate_errors("clearing mapping problems"):
            self.client.delete(self.keys.mapping_problems)

    # ----------------------------------------------------------------- change stream
    def read_changes(
        self, after: str = FIRST_ID, count: int = 1000, block_ms: int | None = None
    ) -> list[ChangeEntry]:
        """Change-stream entries after ``after`` (``$`` for new ones only): ``(id, source, changes)``."""
        with translate_errors("reading the change stream"):
            return decode_xread(self.client.xread({self.keys.changes: after}, count=count, block=block_ms))

    def change_range(self, start: str = "-", end: str = "+", count: int | None = None) -> list[ChangeEntry]:
        """Change-stream entries between two ids (inclusive), oldest first."""
        with translate_errors("reading the change stream"):
            return decode_entries(self.client.xrange(self.keys.changes, start, end, count=count))

    def change_range_rev(
        self, end: str = "+", start: str = "-", count: int | None = None
    ) -> list[ChangeEntry]:
        """Change-stream entries between two ids (inclusive), newest first (API history/KPI seeding)."""
        with translate_errors("reading the change stream"):
            return decode_entries(self.client.xrevrange(self.keys.changes, end, start, count=count))

    def change_stream_info(self) -> dict[str, Any]:
        """Length, first and last entry id of the change stream (ids are ``None`` when it is empty)."""
        k = self.keys.changes
        with translate_errors("inspecting the change stream"):
            pipe = self.client.pipeline(transaction=False)
            pipe.xlen(k)
            pipe.xrange(k, count=1)
            pipe.xrevrange(k, count=1)
            length, first, last = pipe.execute()
        return stream_info(length, first, last, self.stream_maxlen)

    # ----------------------------------------------------------------- demand
    def demand(self) -> dict[str, int]:
        """Current demand per model."""
        with translate_errors("reading demand"):
            raw = self.client.hgetall(self.keys.demand)
        return {k: int(v) for k, v in raw.items()}

    def set_demand(self, model: str, quantity: Any, actor: str = "cli") -> str:
        """Set one model's demand and append a demand event (one transaction); returns the event id.

        Refuses unknown models, negatives and non-integers (:class:`ValidationError`); nothing changes.
        """
        qty = parse_quantity(model, quantity, [m.id for m in self.plant().models])
        k = self.keys
        with translate_errors("setting demand"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(k.demand, model)
            pipe.hset(k.demand, model, str(qty))
            fields = demand_event_fields(model, qty, actor, time.time())
            pipe.xadd(k.demand_events, fields, maxlen=DEMAND_EVENTS_MAXLEN, approximate=True)
            res = pipe.execute()
        return str(res[-1])

    def demand_events(
        self, after: str = FIRST_ID, count: int = 100, block_ms: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        """Demand-change events after ``after``."""
        with translate_errors("reading demand events"):
            res = self.client.xread({self.keys.demand_events: after}, count=count, block=block_ms)
        return [(sid, dict(f)) for _s, entries in res or [] for sid, f in entries]

    def last_demand_event_id(self) -> str:
        """Id of the newest demand event (``0-0`` if none): where a service starts following the stream."""
        with translate_errors("reading demand events"):
            res = self.client.xrevrange(self.keys.demand_events, count=1)
        return str(res[0][0]) if res else FIRST_ID

    # ----------------------------------------------------------------- plans
    def put_plan(
        self,
        plan: Plan,
        *,
        expect_current: int | Callable[[], None] | None = None,
        check: bool = False,
        make_current: bool = True,
    ) -> int:
        """Store ``plan`` as the next version and make it current, atomically (WATCH/MULTI).

        With ``check=True`` the switch only happens if the current version is still ``expect_current``
        (``None``: no plan yet); otherwise :class:`ValidationError` is raised and nothing is written, so two
        re-planners working from the same base can never interleave. ``make_current=False`` stores a
        proposal: a new version that becomes current only when accepted (:meth:`set_current_plan`).
        """
        k = self.keys
        with translate_errors("storing a plan"), self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(k.plan_counter, k.plan_current)
                    cur = pipe.get(k.plan_current)
                    cur_v = int(cur) if cur else None
                    if check and cur_v != expect_current:
                        raise ValidationError(
                            f"plan changed meanwhile (now v{cur_v}, expected v{expect_current}): re-plan"
                        )
                    version = int(pipe.get(k.plan_counter) or 0) + 1
                    doc = plan.model_copy(
                        update={"version": version, "created_at": plan.created_at or time.time()}
                    )
                    pipe.multi()
                    pipe.set(k.plan_counter, version)
                    pipe.set(k.plan(version), doc.model_dump_json())
                    pipe.zadd(k.plans, {str(version): version})
                    if make_current:
                        pipe.set(k.plan_current, version)
                    pipe.execute()
                    return version
                except WatchError:
                    continue

    def set_current_plan(self, version: int) -> None:
        """Make an already stored plan version the current one (accepting an earlier plan; API)."""
        k = self.keys
        with translate_errors(f"switching to plan v{version}"):
            if not self.client.exists(k.plan(version)):
                raise NotFoundError(f"no plan version {version}")
            self.client.set(k.plan_current, version)

    def current_plan_version(self) -> int | None:
        """The current plan's version, or None."""
        with translate_errors("reading the current plan"):
            raw = self.client.get(self.keys.plan_current)
        return int(raw) if raw else None

    def get_plan(self, version: int | None = None) -> Plan:
        """A plan by version (the current one by default)."""
        v = version if version is not None else self.current_plan_version()
        if v is None:
            raise NotFoundError("no plan yet: run `twin replan`")
        with translate_errors(f"reading plan v{v}"):
            raw = self.client.get(self.keys.plan(v))
        if raw is None:
            raise NotFoundError(f"no plan version {v}")
        return Plan.model_validate_json(raw)

    def plan_versions(self) -> list[int]:
        """All stored plan versions, oldest first."""
        with translate_errors("listing plans"):
            return [int(v) for v in self.client.zrange(self.keys.plans, 0, -1)]

    # ----------------------------------------------------------------- audit, write-back switch, time scale
    def append_audit(
        self, actor: str, action: str, detail: dict[str, Any] | None = None, result: str = "ok"
    ) -> str:
        """Record who did what, when, and with which result."""
        fields = audit_fields(actor, action, detail, result, time.time())
        with translate_errors("writing the audit log"):
            return str(self.client.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True))

    def audit(self, count: int = 100) -> list[dict[str, Any]]:
        """Newest audit entries first."""
        with translate_errors("reading the audit log"):
            return decode_audit(self.client.xrevrange(self.keys.audit, count=count))

    def audit_length(self) -> int:
        """Number of entries in the audit stream."""
        with translate_errors("reading the audit log"):
            return int(self.client.xlen(self.keys.audit))

    def writeback_enabled(self) -> bool:
        """The global write-back kill switch: True unless an operator switched write-back off."""
        with translate_errors("reading the write-back switch"):
            return writeback_enabled(self.client.get(self.keys.writeback))

    def set_writeback_enabled(self, enabled: bool, actor: str) -> None:
        """Flip the kill switch (audited)."""
        with translate_errors("setting the write-back switch"):
            self.client.set(self.keys.writeback, WRITEBACK_ON if enabled else WRITEBACK_OFF)
        self.append_audit(actor, "writeback.switch", {"enabled": enabled})

    def time_scale(self) -> float:
        """Plant seconds per wall-clock second of the live data: a simulated plant's speed, else 1."""
        with translate_errors("reading the time scale"):
            return decode_time_scale(self.client.get(self.keys.time_scale))

    def set_time_scale(self, scale: float) -> None:
        """Record the speed of the simulated plant feeding this twin (1 clears it: a real plant)."""
        if not math.isfinite(scale) or scale <= 0:
            raise ValidationError(f"time scale must be a positive number, got {scale!r}")
        with translate_errors("setting the time scale"):
            if scale == 1.0:
                self.client.delete(self.keys.time_scale)
            else:
                self.client.set(self.keys.time_scale, repr(float(scale)))

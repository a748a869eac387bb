"""The synchronous twin store: plant graph, live state, change feed, demand, plans, audit, kill switch."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twin.errors import NotFoundError, SchemaMismatchError, StoreError, StoreUnavailableError, ValidationError
from twin.model import Plan, Plant
from twin.store.cluster import cluster_client, is_cluster_url
from twin.store.keys import (
    SCHEMA_VERSION,
    Change,
    Keys,
    decode_changes,
    decode_value,
    encode_change,
    join_change_elements,
)

T = TypeVar("T")

#: Default cap of the change stream (approximate, ``MAXLEN ~``); see README "History retention".
DEFAULT_STREAM_MAXLEN = 200_000


def plant_hash(plant: Plant) -> str:
    """A stable fingerprint of a plant definition (what decides whether a reload is a migration)."""
    doc = plant.model_dump_json(by_alias=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Turn redis-py errors into the twin's own, naming what was being done."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailableError(f"Redis unreachable while {what}: {exc}") from exc
    except RedisError as exc:
        raise StoreError(f"Redis error while {what}: {exc}") from exc


class TwinStore:
    """The twin in Redis, built around a client it is handed (``redis.Redis`` or ``RedisCluster``).

    Strings are decoded (the client must be created with ``decode_responses=True``; :meth:`from_url`
    does that).
    """

    def __init__(
        self, client: Any, plant_id: str | None = None, *, stream_maxlen: int = DEFAULT_STREAM_MAXLEN
    ) -> None:
        self.client = client
        self.stream_maxlen = stream_maxlen
        self._plant_id = plant_id
        self._plant: Plant | None = None
        self._eq_line: dict[str, str] | None = None

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

    # ----------------------------------------------------------------- plant and graph
    @property
    def plant_id(self) -> str:
        """The plant this store serves; if not given, the one plant found in Redis."""
        if self._plant_id is None:
            with translate_errors("looking up the loaded plant"):
                found = sorted(self.client.scan_iter(match="sdf:{*}:meta", count=1000))
            if not found:
                raise NotFoundError("no plant loaded in Redis: run `twin load --config FILE` first")
            if len(found) > 1:
                names = ", ".join(k.split("{")[1].split("}")[0] for k in found)
                raise NotFoundError(f"several plants in Redis ({names}): pass --plant")
            self._plant_id = found[0].split("{")[1].split("}")[0]
        return self._plant_id

    @property
    def keys(self) -> Keys:
        """Key names of this store's plant."""
        return Keys(self.plant_id)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def delete_plant(self, plant_id: str | None = None) -> int:
        """Remove every key of a plant (graph, live hashes, streams, plans, demand); returns how many.

        For benchmarks and tests that load throw-away plants into a shared Redis. Keys are deleted one by one
        in a non-transactional pipeline, so this also works on a cluster.
        """
        pid = plant_id or self.plant_id
        with translate_errors(f"deleting plant {pid!r}"):
            keys = list(self.client.scan_iter(match=f"sdf:{{{pid}}}:*", count=1000))
            keys += list(self.client.scan_iter(match=f"sdf:{{{pid}:*", count=1000))
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.delete(key)
            pipe.execute()
        if pid == self._plant_id:
            self._plant = None
            self._eq_line = None
        return len(keys)

    def ping(self) -> bool:
        """True if Redis answers."""
        with translate_errors("pinging"):
            return bool(self.client.ping())

    def meta(self) -> dict[str, str]:
        """The schema/version marker of the loaded plant (empty if none)."""
        with translate_errors("reading the plant marker"):
            return dict(self.client.hgetall(self.keys.meta))

    def load_plant(self, plant: Plant, *, migrate: bool = False) -> dict[str, Any]:
        """Write a plant as a graph (nodes, typed edges) with its schema marker.

        Loading the same definition again is a no-op. Loading a *changed* definition over an existing one
        raises :class:`SchemaMismatchError` unless ``migrate`` is set, in which case the old graph and the
        live state of removed equipment are replaced in one transaction.
        """
        self._plant_id = self._plant_id or plant.id
        if plant.id != self._plant_id:
            raise ValidationError(f"this store serves plant {self._plant_id!r}, not {plant.id!r}")
        k = Keys(plant.id)
        fingerprint = plant_hash(plant)
        old = self.meta()
        if old:
            if old.get("schema") != str(SCHEMA_VERSION):
                if not migrate:
                    raise SchemaMismatchError(
                        f"Redis holds plant {plant.id!r} in schema {old.get('schema')}, this version uses "
                        f"{SCHEMA_VERSION}: run `twin load --migrate` to convert it"
                    )
            elif old.get("config_hash") == fingerprint:
                self._cache(plant)
                return {
                    "changed": False,
                    "config_hash": fingerprint,
                    "equipment": int(old.get("equipment", 0)),
                }
            elif not migrate:
                raise SchemaMismatchError(
                    f"Redis already holds a different definition of plant {plant.id!r} "
                    f"(config {old.get('config_hash')}, loading {fingerprint}): "
                    "run `twin load --migrate` to replace it"
                )
        nodes: dict[str, str] = {plant.id: json.dumps({"id": plant.id, "type": "plant", "name": plant.name})}
        for line in plant.lines:
            nodes[line.id] = json.dumps(
                {"id": line.id, "type": "line", "kind": line.kind.value, "name": line.name}
            )
            for e in line.equipment:
                nodes[e.id] = e.model_dump_json(exclude={"extra_tags"})
        edges = {f"{e.source}|{e.kind.value}|{e.target}": e.kind.value for e in plant.all_edges()}
        removed: list[str] = []
        if old:
            prev = self._load_cached_plant()
            new_ids = {e.id for e in plant.equipment()}
            removed = [k.live(e.line, e.id) for e in prev.equipment() if e.id not in new_ids] if prev else []
        with translate_errors("loading the plant"):
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(k.nodes, k.edges)
            pipe.hset(k.nodes, mapping=nodes)
            pipe.hset(k.edges, mapping=edges)
            pipe.set(k.plant, plant.model_dump_json(by_alias=True))
            pipe.hset(
                k.meta,
                mapping={
                    "schema": str(SCHEMA_VERSION),
                    "plant_id": plant.id,
                    "config_hash": fingerprint,
                    "loaded_at": f"{time.time():.3f}",
                    "equipment": str(len(plant.equipment())),
                },
            )
            if plant.demand and not self.client.exists(k.demand):
                pipe.hset(k.demand, mapping={m: str(q) for m, q in plant.demand.items()})
            pipe.execute()
            for key in removed:  # live hashes live in other slots: not part of the transaction
                self.client.delete(key)
        self._cache(plant)
        return {
            "changed": True,
            "config_hash": fingerprint,
            "equipment": len(plant.equipment()),
            "migrated": bool(old),
        }

    def _cache(self, plant: Plant) -> None:
        self._plant = plant
        self._eq_line = {e.id: e.line for e in plant.equipment()}

    def _load_cached_plant(self) -> Plant | None:
        with translate_errors("reading the plant"):
            raw = self.client.get(self.keys.plant)
        return Plant.model_validate_json(raw) if raw else None

    def plant(self) -> Plant:
        """The loaded plant definition."""
        if self._plant is None:
            p = self._load_cached_plant()
            if p is None:
                raise NotFoundError(f"plant {self.plant_id!r} is not loaded: run `twin load --config FILE`")
            self._cache(p)
        assert self._plant is not None
        return self._plant

    def nodes(self) -> dict[str, dict[str, Any]]:
        """Graph nodes: id -> attributes."""
        with translate_errors("reading graph nodes"):
            raw = self.client.hgetall(self.keys.nodes)
        return {k: json.loads(v) for k, v in raw.items()}

    def edges(self) -> list[tuple[str, str, str]]:
        """Graph edges as ``(source, target, kind)``."""
        with translate_errors("reading graph edges"):
            raw = self.client.hkeys(self.keys.edges)
        out = []
        for key in raw:
            s, kind, t = key.split("|")
            out.append((s, t, kind))
        return sorted(out)

    def line_of(self, equipment: str) -> str:
        """The line an equipment id belongs to."""
        if self._eq_line is None:
            self.plant()
        assert self._eq_line is not None
        try:
            return self._eq_line[equipment]
        except KeyError:
            raise NotFoundError(f"unknown equipment {equipment!r}") from None

    # ----------------------------------------------------------------- live state
    def write_changes(
        self, changes: Sequence[Change | tuple[str, str, Any, str, float]], source: str = ""
    ) -> str:
        """Write one batch: live hashes and one change-stream entry, in one pipeline. Returns the entry id.

        Values that cannot be JSON (NaN, infinity) are stored with quality ``bad`` and value ``null``,
        never as good values.
        """
        if not changes:
            return ""
        now = time.time()
        elements: list[str] = []
        per_key: dict[str, dict[str, str]] = {}
        for eq, tag, value, quality, ts in changes:
            key = self.keys.live(self.line_of(eq), eq)
            fields = per_key.setdefault(key, {})
            fields[tag], element = encode_change(eq, tag, value, quality, ts, now)
            elements.append(element)
            fields["_updated"] = f"{now:.6f}"
        with translate_errors("writing live state"):
            pipe = self.client.pipeline(transaction=False)
            for key, mapping in per_key.items():
                pipe.hset(key, mapping=mapping)
            pipe.xadd(
                self.keys.changes,
                {"src": source, "d": join_change_elements(elements)},
                maxlen=self.stream_maxlen,
                approximate=True,
            )
            res = pipe.execute()
        return str(res[-1])

    def mark_stale(self, equipment: Iterable[str], source: str = "") -> int:
        """Mark every tag of the given equipment stale (value kept); returns how many tags were marked."""
        changes: list[Change] = []
        now = time.time()
        for eq in equipment:
            for tag, (value, _q, ts) in self.read_tags(eq).items():
                changes.append(Change(eq, tag, value, "stale", ts or now))
        self.write_changes(changes, source=source)
        return len(changes)

    def read_tags(self, equipment: str) -> dict[str, tuple[Any, str, float]]:
        """Live tags of one equipment: tag -> ``(value, quality, source_ts)``."""
        with translate_errors(f"reading {equipment}"):
            raw = self.client.hgetall(self.keys.live(self.line_of(equipment), equipment))
        out: dict[str, tuple[Any, str, float]] = {}
        for tag, enc in raw.items():
            if tag.startswith("_"):
                continue
            v, q, ts, _ = decode_value(enc)
            out[tag] = (v, q, ts)
        return out

    def status(self, line: str | None = None) -> list[dict[str, Any]]:
        """Every piece of equipment with its live values (the ``twin status --json`` rows).

        Each row has ``id, type, line, state, quality, updated`` and one key per live tag. ``quality`` is
        the worst quality among its tags (``stale`` if it has no live data yet).
        """
        plant = self.plant()
        eqs = [e for e in plant.equipment() if line is None or e.line == line]
        with translate_errors("reading live state"):
            pipe = self.client.pipeline(transaction=False)
            for e in eqs:
                pipe.hgetall(self.keys.live(e.line, e.id))
            raws = pipe.execute()
        order = {"good": 0, "uncertain": 1, "stale": 2, "bad": 3}
        rows = []
        for e, raw in zip(eqs, raws, strict=True):
            row: dict[str, Any] = {"id": e.id, "type": e.type.value, "line": e.line}
            worst = "good" if raw else "stale"
            for tag, enc in raw.items():
                if tag.startswith("_"):
                    continue
                v, q, _ts, _ = decode_value(enc)
                row[tag] = v
                if order.get(q, 3) > order.get(worst, 0):
                    worst = q
            row.setdefault("state", None)
            row["quality"] = worst
            row["updated"] = float(raw["_updated"]) if "_updated" in raw else None
            rows.append(row)
        return rows

    def quality_counts(self) -> dict[str, int]:
        """How many live tags have each quality, plus ``missing``: defined tags with no live value yet."""
        plant = self.plant()
        eqs = plant.equipment()
        with translate_errors("reading live state"):
            pipe = self.client.pipeline(transaction=False)
            for e in eqs:
                pipe.hgetall(self.keys.live(e.line, e.id))
            raws = pipe.execute()
        out = {"good": 0, "uncertain": 0, "bad": 0, "stale": 0, "missing": 0}
        for e, raw in zip(eqs, raws, strict=True):
            seen = 0
            for tag, enc in raw.items():
                if tag.startswith("_"):
                    continue
                seen += 1
                q = decode_value(enc)[1]
                out[q] = out.get(q, 0) + 1
            out["missing"] += max(0, len(e.tags()) - seen)
        return out

    def read_changes(
        self, after: str = "0-0", count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, str, list[Change]]]:
        """Change-stream entries after ``after`` (``$`` for new ones only): ``(id, source, changes)``."""
        with translate_errors("reading the change stream"):
            res = self.client.xread({self.keys.changes: after}, count=count, block=block_ms)
        out = []
        for _stream, entries in res or []:
            for sid, fields in entries:
                out.append((sid, fields.get("src", ""), decode_changes(fields["d"])))
        return out

    def change_range(
        self, start: str = "-", end: str = "+", count: int | None = None
    ) -> list[tuple[str, str, list[Change]]]:
        """Change-stream entries between two ids (inclusive), oldest first."""
        with translate_errors("reading the change stream"):
            res = self.client.xrange(self.keys.changes, start, end, count=count)
        return [(sid, f.get("src", ""), decode_changes(f["d"])) for sid, f in res]

    def change_range_rev(
        self, end: str = "+", start: str = "-", count: int | None = None
    ) -> list[tuple[str, str, list[Change]]]:
        """Change-stream entries between two ids (inclusive), newest first (API history/KPI seeding)."""
        with translate_errors("reading the change stream"):
            res = self.client.xrevrange(self.keys.changes, end, start, count=count)
        return [(sid, f.get("src", ""), decode_changes(f["d"])) for sid, f in res]

    def change_stream_info(self) -> dict[str, Any]:
        """Length, first and last entry id of the change stream (ids are ``None`` when it is empty)."""
        k = self.keys.changes
        with translate_errors("inspecting the change stream"):
            pipe = self.client.pipeline(transaction=False)
            pipe.xlen(k)
            pipe.xrange(k, count=1)
            pipe.xrevrange(k, count=1)
            length, first, last = pipe.execute()
        return {
            "length": int(length),
            "first_id": first[0][0] if first else None,
            "last_id": last[0][0] if last else None,
            "maxlen": self.stream_maxlen,
        }

    def set_current_plan(self, version: int) -> None:
        """Make an already stored plan version the current one (accepting an earlier plan; API)."""
        k = self.keys
        with translate_errors(f"switching to plan v{version}"):
            if not self.client.exists(k.plan(version)):
                raise NotFoundError(f"no plan version {version}")
            self.client.set(k.plan_current, version)

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
        known = [m.id for m in self.plant().models]
        if model not in known:
            raise ValidationError(f"unknown model {model!r} (known: {', '.join(known)})")
        if isinstance(quantity, bool) or not isinstance(quantity, int | str | float):
            raise ValidationError(f"demand for {model!r} must be a whole number >= 0, got {quantity!r}")
        try:
            qty = int(str(quantity).strip())
        except ValueError:
            raise ValidationError(
                f"demand for {model!r} must be a whole number >= 0, got {quantity!r}"
            ) from None
        if isinstance(quantity, float) and quantity != qty:
            raise ValidationError(f"demand for {model!r} must be a whole number >= 0, got {quantity!r}")
        if qty < 0:
            raise ValidationError(f"demand for {model!r} must be >= 0, got {qty}")
        k = self.keys
        with translate_errors("setting demand"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(k.demand, model)
            pipe.hset(k.demand, model, str(qty))
            pipe.xadd(
                k.demand_events,
                {"model": model, "qty": str(qty), "actor": actor, "ts": f"{time.time():.3f}"},
                maxlen=10_000,
                approximate=True,
            )
            res = pipe.execute()
        return str(res[-1])

    def demand_events(
        self, after: str = "0-0", count: int = 100, block_ms: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        """Demand-change events after ``after``."""
        with translate_errors("reading demand events"):
            res = self.client.xread({self.keys.demand_events: after}, count=count, block=block_ms)
        return [(sid, dict(f)) for _s, entries in res or [] for sid, f in entries]

    def last_demand_event_id(self) -> str:
        """Id of the newest demand event (``0-0`` if none): where a service starts following the stream."""
        with translate_errors("reading demand events"):
            res = self.client.xrevrange(self.keys.demand_events, count=1)
        return str(res[0][0]) if res else "0-0"

    # ----------------------------------------------------------------- plans
    def put_plan(
        self, plan: Plan, *, expect_current: int | Callable[[], None] | None = None, check: bool = False
    ) -> int:
        """Store ``plan`` as the next version and make it current, atomically (WATCH/MULTI).

        With ``check=True`` the switch only happens if the current version is still ``expect_current``
        (``None``: no plan yet); otherwise :class:`ValidationError` is raised and nothing is written, so two
        re-planners working from the same base can never interleave.
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
                    pipe.set(k.plan_current, version)
                    pipe.execute()
                    return version
                except WatchError:
                    continue

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

    # ----------------------------------------------------------------- audit and write-back switch
    def append_audit(
        self, actor: str, action: str, detail: dict[str, Any] | None = None, result: str = "ok"
    ) -> str:
        """Record who did what, when, and with which result."""
        with translate_errors("writing the audit log"):
            return str(
                self.client.xadd(
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
            )

    def audit(self, count: int = 100) -> list[dict[str, Any]]:
        """Newest audit entries first."""
        with translate_errors("reading the audit log"):
            res = self.client.xrevrange(self.keys.audit, count=count)
        return [{"id": sid, **f, "detail": json.loads(f.get("detail", "{}"))} for sid, f in res]

    def audit_length(self) -> int:
        """Number of entries in the audit stream."""
        with translate_errors("reading the audit log"):
            return int(self.client.xlen(self.keys.audit))

    def writeback_enabled(self) -> bool:
        """The global write-back kill switch: True unless an operator switched write-back off."""
        with translate_errors("reading the write-back switch"):
            return bool(self.client.get(self.keys.writeback) != "off")

    def set_writeback_enabled(self, enabled: bool, actor: str) -> None:
        """Flip the kill switch (audited)."""
        with translate_errors("setting the write-back switch"):
            self.client.set(self.keys.writeback, "on" if enabled else "off")
        self.append_audit(actor, "writeback.switch", {"enabled": enabled})

    def time_scale(self) -> float:
        """Plant seconds per wall-clock second of the live data: a simulated plant's speed, else 1."""
        with translate_errors("reading the time scale"):
            raw = self.client.get(self.keys.time_scale)
        try:
            scale = float(raw) if raw else 1.0
        except ValueError:
            return 1.0  # written by hand: rates shown per wall-clock hour rather than wrong ones
        return scale if math.isfinite(scale) and scale > 0 else 1.0

    def set_time_scale(self, scale: float) -> None:
        """Record the speed of the simulated plant feeding this twin (1 clears it: a real plant)."""
        if not math.isfinite(scale) or scale <= 0:
            raise ValidationError(f"time scale must be a positive number, got {scale!r}")
        with translate_errors("setting the time scale"):
            if scale == 1.0:
                self.client.delete(self.keys.time_scale)
            else:
                self.client.set(self.keys.time_scale, repr(float(scale)))

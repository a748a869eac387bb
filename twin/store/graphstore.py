"""The plant part of the sync store: which plant it serves, its definition and graph; loading it.

:class:`~twin.store.sync.TwinStore` builds on :class:`GraphStore`; the definition's encoding and the reload
rule are :mod:`twin.store.plantdoc`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from twin.errors import NotFoundError, ValidationError
from twin.model import Plant
from twin.store.commands import DEFAULT_STREAM_MAXLEN
from twin.store.errors import translate_errors
from twin.store.keys import Keys
from twin.store.plantdoc import (
    decode_edges,
    edge_fields,
    meta_fields,
    node_fields,
    plant_hash,
    reload_unchanged,
)

__all__ = ["GraphStore"]


class GraphStore:
    """A plant in Redis around a client it is handed: its id, definition, graph nodes and edges."""

    def __init__(
        self, client: Any, plant_id: str | None = None, *, stream_maxlen: int = DEFAULT_STREAM_MAXLEN
    ) -> None:
        self.client = client
        self.stream_maxlen = stream_maxlen
        self._plant_id = plant_id
        self._plant: Plant | None = None
        self._eq_line: dict[str, str] | None = None
        self._live_key: dict[str, str] | None = None

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
            self._plant = self._eq_line = self._live_key = None
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
        fingerprint = plant_hash(plant)
        old = self.meta()
        if reload_unchanged(old, plant, fingerprint, migrate=migrate):
            self._cache(plant)
            return {"changed": False, "config_hash": fingerprint, "equipment": int(old.get("equipment", 0))}
        removed: list[str] = []
        if old:
            prev = self._load_cached_plant()
            new_ids = {e.id for e in plant.equipment()}
            k = Keys(plant.id)
            removed = [k.live(e.line, e.id) for e in prev.equipment() if e.id not in new_ids] if prev else []
        self._write_graph(plant, fingerprint, removed)
        self._cache(plant)
        return {
            "changed": True,
            "config_hash": fingerprint,
            "equipment": len(plant.equipment()),
            "migrated": bool(old),
        }

    def _write_graph(self, plant: Plant, fingerprint: str, removed: list[str]) -> None:
        """Graph, plant document and marker in one transaction; then drop the ``removed`` live hashes."""
        k = Keys(plant.id)
        with translate_errors("loading the plant"):
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(k.nodes, k.edges)
            pipe.hset(k.nodes, mapping=node_fields(plant))
            pipe.hset(k.edges, mapping=edge_fields(plant))
            pipe.set(k.plant, plant.model_dump_json(by_alias=True))
            pipe.hset(k.meta, mapping=meta_fields(plant, fingerprint, time.time()))
            pipe.delete(k.mapping_problems)  # reported against the old bindings: the adapters report afresh
            if plant.demand and not self.client.exists(k.demand):
                pipe.hset(k.demand, mapping={m: str(q) for m, q in plant.demand.items()})
            pipe.execute()
            for key in removed:  # live hashes live in other slots: not part of the transaction
                self.client.delete(key)

    def _cache(self, plant: Plant) -> None:
        self._plant = plant
        self._eq_line = {e.id: e.line for e in plant.equipment()}
        keys = Keys(plant.id)
        self._live_key = {e.id: keys.live(e.line, e.id) for e in plant.equipment()}

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
            return decode_edges(self.client.hkeys(self.keys.edges))

    def line_of(self, equipment: str) -> str:
        """The line an equipment id belongs to."""
        if self._eq_line is None:
            self.plant()
        assert self._eq_line is not None
        try:
            return self._eq_line[equipment]
        except KeyError:
            raise NotFoundError(f"unknown equipment {equipment!r}") from None

    def _live_keys(self) -> dict[str, str]:
        """Equipment id -> live hash key of the loaded plant (what a write looks keys up in)."""
        if self._live_key is None:
            self.plant()
        assert self._live_key is not None
        return self._live_key

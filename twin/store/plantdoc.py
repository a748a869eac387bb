"""A plant definition as the store keeps it: graph nodes and typed edges, the schema marker, and the rule
that decides whether loading a definition again is a no-op, a refusal or a migration.
"""

from __future__ import annotations

import hashlib
import json

from twin.errors import SchemaMismatchError
from twin.model import Plant
from twin.store.keys import SCHEMA_VERSION

__all__ = ["decode_edges", "edge_fields", "meta_fields", "node_fields", "plant_hash", "reload_unchanged"]


def plant_hash(plant: Plant) -> str:
    """A stable fingerprint of a plant definition (what decides whether a reload is a migration)."""
    doc = plant.model_dump_json(by_alias=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def node_fields(plant: Plant) -> dict[str, str]:
    """Graph nodes (the plant, its lines, their equipment) as hash fields: id -> JSON attributes."""
    nodes: dict[str, str] = {plant.id: json.dumps({"id": plant.id, "type": "plant", "name": plant.name})}
    for line in plant.lines:
        nodes[line.id] = json.dumps(
            {"id": line.id, "type": "line", "kind": line.kind.value, "name": line.name}
        )
        for e in line.equipment:
            nodes[e.id] = e.model_dump_json(exclude={"extra_tags"})
    return nodes


def edge_fields(plant: Plant) -> dict[str, str]:
    """Typed graph edges as hash fields: ``source|kind|target`` -> kind."""
    return {f"{e.source}|{e.kind.value}|{e.target}": e.kind.value for e in plant.all_edges()}


def decode_edges(fields: list[str]) -> list[tuple[str, str, str]]:
    """Edge hash fields as sorted ``(source, target, kind)``."""
    out = []
    for key in fields:
        s, kind, t = key.split("|")
        out.append((s, t, kind))
    return sorted(out)


def meta_fields(plant: Plant, fingerprint: str, now: float) -> dict[str, str]:
    """The schema marker of a loaded plant."""
    return {
        "schema": str(SCHEMA_VERSION),
        "plant_id": plant.id,
        "config_hash": fingerprint,
        "loaded_at": f"{now:.3f}",
        "equipment": str(len(plant.equipment())),
    }


def reload_unchanged(old: dict[str, str], plant: Plant, fingerprint: str, *, migrate: bool) -> bool:
    """Whether loading ``plant`` over the marker ``old`` (empty: nothing loaded) changes nothing.

    Raises :class:`SchemaMismatchError` for another schema or a changed definition unless ``migrate``.
    """
    if not old:
        return False
    if old.get("schema") != str(SCHEMA_VERSION):
        if not migrate:
            raise SchemaMismatchError(
                f"Redis holds plant {plant.id!r} in schema {old.get('schema')}, this version uses "
                f"{SCHEMA_VERSION}: run `twin load --migrate` to convert it"
            )
        return False
    if old.get("config_hash") == fingerprint:
        return True
    if not migrate:
        raise SchemaMismatchError(
            f"Redis already holds a different definition of plant {plant.id!r} "
            f"(config {old.get('config_hash')}, loading {fingerprint}): "
            "run `twin load --migrate` to replace it"
        )
    return False

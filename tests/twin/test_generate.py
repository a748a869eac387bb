"""The plant generator: valid plants of the requested size, deterministic per seed, schedulable."""

from __future__ import annotations

import pytest

from twin.config import parse_plant, plant_from_data
from twin.errors import ValidationError
from twin.generate import generate_plant, generate_yaml
from twin.graph import bottleneck, plant_graph, routes
from twin.model import PROCESSING_TYPES, STANDARD_TAGS, EquipmentType


def test_requested_counts_and_valid() -> None:
    plant = parse_plant(generate_yaml(10, 50, 20, seed=3), "gen")
    assert len(plant.lines) == 10
    stations = [e for e in plant.equipment() if e.type in PROCESSING_TYPES]
    assert len(stations) == 500 and len(plant.equipment()) == 500
    assert all(len(e.tags()) == 20 for e in stations)
    assert sum(len(e.tags()) for e in plant.equipment()) == 10_000
    assert len({line.opcua.endpoint for line in plant.lines if line.opcua}) == 10
    # on a grid: lines 12 m apart, stations 6 m apart
    assert plant.lines[2].equipment[3].position.model_dump() == {"x": 18.0, "y": 24.0, "z": 0.0}


def test_same_seed_same_plant_other_seed_differs() -> None:
    assert generate_yaml(3, 7, 9, seed=5) == generate_yaml(3, 7, 9, seed=5)
    assert generate_yaml(3, 7, 9, seed=5) != generate_yaml(3, 7, 9, seed=6)


def test_schedulable_every_model_routes_every_line_has_work() -> None:
    plant = plant_from_data(generate_plant(4, 6, 7, seed=1, models=3), "gen")
    g = plant_graph(plant)
    used: set[str] = set()
    for m in plant.models:
        found = routes(plant, g, m.id)
        assert found and all(r.path is not None and len(r.path) == 6 for r in found)
        used |= {line for r in found for line in r.lines}
        assert plant.demand[m.id] > 0
    assert used == {line.id for line in plant.lines}
    rep = bottleneck(plant, g)
    assert rep.plant is not None and all(b is not None for b in rep.lines.values())


def test_buffers_and_minimum_tags() -> None:
    plant = plant_from_data(generate_plant(2, 10, 7, seed=0, buffer_every=4), "gen")
    buffers = [e for e in plant.equipment() if e.type == EquipmentType.BUFFER]
    assert [b.id for b in buffers] == ["L01-B001", "L01-B002", "L02-B001", "L02-B002"]
    assert all(len(e.tags()) == len(STANDARD_TAGS) for e in plant.equipment() if e.type in PROCESSING_TYPES)
    with pytest.raises(ValidationError, match="--tags must be at least 7"):
        generate_plant(1, 1, 3)
    with pytest.raises(ValidationError, match="at least 1"):
        generate_plant(0, 1, 7)


def test_single_line_plant() -> None:
    plant = plant_from_data(generate_plant(1, 1, 7), "gen")
    assert plant.lines[0].kind.value == "mixed" and len(plant.models) == 4

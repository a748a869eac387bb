"""Synthetic plants of any size, for scale work (``twin plant generate``).

A generated plant has ``lines`` flow lines of ``stations`` stations each, laid out on a grid (lines 12 m
apart along y, stations 6 m apart along x). Station ``k`` of every line does operation ``op<k>``, so any
line can build any model whose routing is ``op0 .. op<n-1>``; each model is restricted to a few lines, so
the plant is also schedulable. Every station carries ``tags`` tags: the standard ones plus generated
``extra_tags``. The same seed gives the same plant.
"""

from __future__ import annotations

import random
from typing import Any

import yaml

from twin.errors import ValidationError
from twin.model import STANDARD_TAGS

#: Shifts of a generated plant (16 working hours).
_SHIFTS = [
    {"name": "early", "start": "06:00", "end": "14:00"},
    {"name": "late", "start": "14:00", "end": "22:00"},
]
_WORK_S = 16 * 3600
_UNITS = ("degC", "bar", "A", "V", "mm", "Nm", "l/min", "%")

__all__ = ["generate_plant", "generate_yaml"]


def generate_plant(
    lines: int = 10,
    stations: int = 50,
    tags: int = 20,
    *,
    seed: int = 0,
    models: int = 4,
    buffer_every: int = 0,
    first_port: int = 48401,
) -> dict[str, Any]:
    """A valid plant definition as plain data (what :func:`twin.config.plant_from_data` takes).

    ``stations`` is per line; ``tags`` is the total per station (at least the standard ones);
    ``buffer_every`` > 0 puts a buffer after every that many stations (buffers carry their own tags).
    """
    if lines < 1 or stations < 1 or models < 1:
        raise ValidationError("--lines, --stations and --models must be at least 1")
    if tags < len(STANDARD_TAGS):
        raise ValidationError(f"--tags must be at least {len(STANDARD_TAGS)} (the standard station tags)")
    if buffer_every < 0:
        raise ValidationError("--buffer-every must be >= 0")
    rng = random.Random(seed)
    n_extra = tags - len(STANDARD_TAGS)
    plant_lines: list[dict[str, Any]] = [
        {
            "id": _line_id(li),
            "kind": "dedicated" if li == 0 and lines > 1 else "mixed",
            "opcua": {"endpoint": f"opc.tcp://127.0.0.1:{first_port + li}"},
            "equipment": _line_equipment(rng, li, stations, n_extra, buffer_every),
        }
        for li in range(lines)
    ]
    line_ids = [_line_id(li) for li in range(lines)]
    model_list, eligible, slowest = _models(rng, line_ids, models, stations)
    return {
        "id": f"gen-{lines}x{stations}x{tags}",
        "name": f"Generated plant: {lines} lines x {stations} stations x {tags} tags (seed {seed})",
        "default_changeover_s": 300.0,
        "calendar": {"horizon_hours": 24.0, "shifts": _SHIFTS},
        "lines": plant_lines,
        "models": model_list,
        "demand": _demand(line_ids, eligible, slowest),
    }


def _line_id(li: int) -> str:
    return f"L{li + 1:02d}"


def _line_equipment(
    rng: random.Random, li: int, stations: int, n_extra: int, buffer_every: int
) -> list[dict[str, Any]]:
    """Line ``li``'s stations (station ``k`` does ``op<k>``), 6 m apart, with a buffer every few."""
    lid = _line_id(li)
    equipment: list[dict[str, Any]] = []
    x = 0.0
    for k in range(stations):
        power = round(rng.uniform(15, 250), 1)
        equipment.append(
            {
                "id": f"{lid}-S{k + 1:03d}",
                "type": "station",
                "operations": [f"op{k}"],
                "position": {"x": x, "y": li * 12.0},
                "size": {"x": 4.0, "y": 4.0, "z": 3.0},
                "power_kw": power,
                "idle_power_kw": round(power * rng.uniform(0.08, 0.25), 1),
                "mtbf_s": float(rng.randrange(8, 120) * 3600),
                "mttr_s": float(rng.randrange(3, 30) * 60),
                "extra_tags": [
                    {"name": f"x{t + 1:02d}", "type": "float", "unit": rng.choice(_UNITS)}
                    for t in range(n_extra)
                ],
            }
        )
        x += 6.0
        if buffer_every and (k + 1) % buffer_every == 0 and k + 1 < stations:
            equipment.append(
                {
                    "id": f"{lid}-B{(k + 1) // buffer_every:03d}",
                    "type": "buffer",
                    "capacity": rng.randrange(4, 12),
                    "position": {"x": x, "y": li * 12.0},
                    "size": {"x": 3.0, "y": 2.0, "z": 1.0},
                }
            )
            x += 6.0
    return equipment


def _models(
    rng: random.Random, line_ids: list[str], models: int, stations: int
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, float]]:
    """The models, each on 1-3 lines; also each model's lines and its slowest cycle time."""
    model_list: list[dict[str, Any]] = []
    eligible: dict[str, list[str]] = {}
    slowest: dict[str, float] = {}
    for mi in range(models):
        mid = f"M{mi + 1}"
        # every model gets 1-3 lines; model i always includes line i (mod lines) so every line has work
        own = line_ids[mi % len(line_ids)]
        others = [lid for lid in line_ids if lid != own]
        chosen = [own, *rng.sample(others, k=min(len(others), rng.randrange(0, 3)))]
        eligible[mid] = sorted(chosen)
        cycles = [float(rng.randrange(40, 90)) for _ in range(stations)]
        slowest[mid] = max(cycles)
        model_list.append(
            {
                "id": mid,
                "routing": [
                    {"operation": f"op{k}", "cycle_s": c, "lines": eligible[mid]}
                    for k, c in enumerate(cycles)
                ],
            }
        )
    return model_list, eligible, slowest


def _demand(line_ids: list[str], eligible: dict[str, list[str]], slowest: dict[str, float]) -> dict[str, int]:
    """About 80 % of what the lines can make, each line's time split among the models it serves."""
    served = {lid: [m for m in eligible if lid in eligible[m]] for lid in line_ids}
    demand = {m: 0 for m in eligible}
    for ms in served.values():
        for m in ms:
            demand[m] += int(0.8 * _WORK_S / len(ms) / slowest[m])
    return demand


def generate_yaml(lines: int = 10, stations: int = 50, tags: int = 20, **kw: Any) -> str:
    """:func:`generate_plant` as YAML text (compact: one line per station)."""
    data = generate_plant(lines, stations, tags, **kw)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    header = f"# {data['name']}\n# Made by `twin plant generate`; edit freely.\n"
    return header + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=10_000)

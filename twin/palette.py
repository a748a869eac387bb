"""Colours of the 3D view: a colour-blind-safe palette for station states, and the legend.

The state colours come from the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), which
stays distinguishable with protanopia, deuteranopia and tritanopia:

================  ===========================  =========================================
State             Colour                       Why
================  ===========================  =========================================
Fault             vermillion ``#D55E00``       reads as "red" to everyone, alarms first
Running           bluish green ``#009E73``     "green" that is not confused with red
Idle              mid grey ``#8C8C8C``         nothing happening, no attention needed
Blocked           orange ``#E69F00``           waiting on downstream (warning)
Starved           yellow ``#F0E442``           waiting on upstream (warning)
Changeover        reddish purple ``#CC79A7``   planned stop, distinct from the warnings
Off               near black ``#333333``       switched off
stale / no data   pale grey ``#DCDCDC``        desaturated: the value is not live
================  ===========================  =========================================

Part markers (car bodies on the stations that hold one) are blue ``#0072B2`` / sky blue ``#56B4E9`` /
black / white per product model, and buffer fill levels
blue; neither is a state colour, so a state never hides behind a part.
"""

from __future__ import annotations

from typing import Any

from twin.model import StationState

__all__ = [
    "AGV_PATH_RGB",
    "CONVEYOR_RGB",
    "FILL_RGB",
    "FLOOR_RGB",
    "GRID_RGB",
    "MODEL_RGB",
    "NOT_LIVE",
    "RGB",
    "STALE_RGB",
    "STATE_RGB",
    "TEXT_RGB",
    "UNKNOWN_MODEL_RGB",
    "hex_color",
    "legend_entries",
    "model_rgb",
    "parse_state",
    "state_rgb",
]

RGB = tuple[int, int, int]

STATE_RGB: dict[StationState, RGB] = {
    StationState.FAULT: (213, 94, 0),
    StationState.RUNNING: (0, 158, 115),
    StationState.IDLE: (140, 140, 140),
    StationState.BLOCKED: (230, 159, 0),
    StationState.STARVED: (240, 228, 66),
    StationState.CHANGEOVER: (204, 121, 167),
    StationState.OFF: (51, 51, 51),
}
#: A station whose live values are stale, bad or missing.
STALE_RGB: RGB = (220, 220, 220)
#: Buffer fill level.
FILL_RGB: RGB = (0, 90, 140)
#: Part markers, one colour per product model (cycled).
MODEL_RGB: tuple[RGB, ...] = ((0, 114, 178), (86, 180, 233), (25, 25, 25), (250, 250, 250))
#: A car whose model is not known.
UNKNOWN_MODEL_RGB: RGB = (250, 250, 250)
#: Static geometry.
FLOOR_RGB: RGB = (238, 236, 230)
GRID_RGB: RGB = (200, 198, 190)
CONVEYOR_RGB: RGB = (95, 105, 115)
AGV_PATH_RGB: RGB = (86, 180, 233)
TEXT_RGB: RGB = (20, 20, 20)

_STATES = list(StationState)
_BY_NAME: dict[str, StationState] = {**{s.value.lower(): s for s in _STATES}, **{s.value: s for s in _STATES}}
#: Qualities that mean "this value is not live".
NOT_LIVE = frozenset({"stale", "bad"})


def parse_state(value: Any) -> StationState | None:
    """A state tag value as the PLC or the store gives it (name or integer code), or None if unknown."""
    if isinstance(value, StationState):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and float(value).is_integer() and 0 <= int(value) < len(_STATES):
        return _STATES[int(value)]
    if isinstance(value, str):
        # A dict lookup: the HUD parses every station's state each refresh (2,000+ per second).
        found = _BY_NAME.get(value)
        if found is not None:
            return found
        key = value.strip().lower()
        if key in _BY_NAME:
            return _BY_NAME[key]
        if key.isdigit():
            return parse_state(int(key))
    return None


def state_rgb(state: Any, quality: str | None) -> RGB:
    """The colour of a piece of equipment with this state value and quality."""
    if quality is None or quality in NOT_LIVE:
        return STALE_RGB
    parsed = parse_state(state)
    return STATE_RGB[parsed] if parsed is not None else STALE_RGB


def model_rgb(model: Any, models: list[str]) -> RGB:
    """The colour of a part marker for a product model id."""
    if model in models:
        return MODEL_RGB[models.index(model) % len(MODEL_RGB)]
    return UNKNOWN_MODEL_RGB


def hex_color(rgb: RGB) -> str:
    """``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def legend_entries() -> list[tuple[str, RGB]]:
    """Legend rows, in the order a line engineer scans them."""
    order = [
        StationState.FAULT,
        StationState.BLOCKED,
        StationState.STARVED,
        StationState.CHANGEOVER,
        StationState.RUNNING,
        StationState.IDLE,
        StationState.OFF,
    ]
    return [*((s.value, STATE_RGB[s]) for s in order), ("stale / no data", STALE_RGB)]

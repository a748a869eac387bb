"""Pixel helpers for the viewer tests: classify a rendered colour by hue (shading keeps the hue)."""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np


def patch_rgb(img: Any, col: int, row: int, radius: int = 2) -> tuple[float, float, float]:
    """Mean colour of a small square around ``(col, row)`` of an ``H x W x 3(+)`` image."""
    arr = np.asarray(img)[..., :3]
    patch = arr[max(row - radius, 0) : row + radius + 1, max(col - radius, 0) : col + radius + 1]
    r, g, b = patch.reshape(-1, 3).astype(float).mean(axis=0)
    return float(r), float(g), float(b)


def is_fault_red(rgb: tuple[float, float, float]) -> bool:
    """True for the palette's Fault vermillion (hue ~27 deg), however it is shaded; not orange/yellow."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return 12 <= h * 360 <= 35 and s > 0.6 and v > 0.25

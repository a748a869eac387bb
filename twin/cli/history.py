"""``twin kpi``, ``twin history`` and ``twin bench history`` (filled in below)."""

from __future__ import annotations

__all__: list[str] = []

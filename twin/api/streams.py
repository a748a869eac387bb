"""Write rate and retention of the change stream, for the history API and the metrics endpoint.

Stream ids are read with :mod:`twin.store.streamids` (the one place that knows their format).
"""

from __future__ import annotations

from typing import Any

from twin.store import TwinStore
from twin.store.streamids import id_at, id_ms

__all__ = ["recent_rate", "retention"]


def recent_rate(store: TwinStore, now: float, window_s: float = 60.0, cap: int = 5_000) -> dict[str, float]:
    """Entries/s and changes/s written to the change stream over the last ``window_s`` seconds.

    Reads at most ``cap`` newest entries (so a very fast stream is measured over a shorter span).
    """
    entries = store.change_range_rev("+", id_at(now - window_s), count=cap)
    if not entries:
        return {"entries_per_s": 0.0, "changes_per_s": 0.0, "span_s": 0.0}
    oldest_ms = id_ms(entries[-1][0])
    span = window_s if len(entries) < cap else max(0.001, now - oldest_ms / 1000.0)
    n_changes = sum(len(c) for _i, _s, c in entries)
    return {"entries_per_s": len(entries) / span, "changes_per_s": n_changes / span, "span_s": span}


def retention(store: TwinStore, now: float) -> dict[str, Any]:
    """What history the capped stream holds now, and how long it will hold at the current rate."""
    info = store.change_stream_info()
    rate = recent_rate(store, now)
    first, last = info["first_id"], info["last_id"]
    first_ts = id_ms(first) / 1000.0 if first else None
    last_ts = id_ms(last) / 1000.0 if last else None
    est = info["maxlen"] / rate["entries_per_s"] if rate["entries_per_s"] > 0 else None
    return {
        "maxlen": info["maxlen"],
        "length": info["length"],
        "first_id": first,
        "last_id": last,
        "first_ts": first_ts,
        "last_ts": last_ts,
        "span_s": (last_ts - first_ts) if first_ts is not None and last_ts is not None else 0.0,
        "entries_per_s": rate["entries_per_s"],
        "changes_per_s": rate["changes_per_s"],
        "estimated_retention_s": est,
    }

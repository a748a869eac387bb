"""Live state of the plant as the viewer sees it, fed by the twin's change stream.

:class:`LiveState` is plain data plus pure updates (no Redis, no rendering): it is seeded from
``TwinStore.status()`` and the recent change stream, then each batch of :class:`twin.store.Change` is applied
with :meth:`LiveState.apply`, which records what became *dirty* so the scene only recolours what changed.
:class:`ChangeFollower` is the small loop that reads the stream (``TwinStore.read_changes``) after the last
entry it has seen.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twin.changes import Change
from twin.model import PROCESSING_TYPES, EquipmentType, Plant, StationState
from twin.palette import NOT_LIVE, parse_state
from twin.store import TwinStore
from twin.store.streamids import FIRST_ID, id_at

__all__ = ["THROUGHPUT_WINDOW_S", "ChangeFollower", "LineStats", "LiveState", "describe"]

#: How far back throughput is measured (and history seeded from the stream at start).
THROUGHPUT_WINDOW_S = 600.0
#: Shortest span of samples a throughput figure is computed from.
MIN_SPAN_S = 30.0
#: Recent values kept per equipment (shown when a station is picked).
HISTORY_LEN = 30


@dataclass
class LineStats:
    """Heads-up figures of one line."""

    line: str
    parts: int
    throughput_per_h: float | None
    energy_kwh: float
    power_kw: float
    states: dict[str, int]


@dataclass
class LiveState:
    """Current live values of every piece of equipment of a plant, with short histories."""

    plant: Plant
    #: equipment -> tag -> (value, quality, source_ts)
    values: dict[str, dict[str, tuple[Any, str, float]]] = field(default_factory=dict)
    #: equipment -> recent (ts, tag, value, quality)
    history: dict[str, deque[tuple[float, str, Any, str]]] = field(default_factory=dict)
    #: equipment ids changed since the last :meth:`take_dirty`
    dirty: set[str] = field(default_factory=set)
    plan_version: int | None = None
    #: Plant seconds per wall-clock second (a simulated plant's speed): rates are shown per plant hour.
    time_scale: float = 1.0
    #: line -> (ts, parts finished) samples for throughput
    _parts: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    _line_of: dict[str, str] = field(default_factory=dict)
    _counted: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Operations that finish a car: the last step of some model's routing.
        final_ops = {m.routing[-1].operation for m in self.plant.models}
        for line in self.plant.lines:
            proc = [e for e in line.equipment if e.type in PROCESSING_TYPES]
            if line.kind.value == "cells":
                # A car visits one cell per stage, so only cells that can do a final step finish cars;
                # counting every cell would count each car once per stage.
                finishing = [e.id for e in proc if final_ops & set(e.operations)]
                self._counted[line.id] = finishing or [e.id for e in proc]
            else:  # a flow line finishes a car at its last processing station
                self._counted[line.id] = [e.id for e in proc[-1:]]
            self._parts[line.id] = deque(maxlen=2000)
            for e in line.equipment:
                self._line_of[e.id] = line.id
                self.values.setdefault(e.id, {})
                self.history.setdefault(e.id, deque(maxlen=HISTORY_LEN))
        self.dirty = set(self._line_of)

    # ------------------------------------------------------------------ updates
    def apply(self, changes: Iterable[Change | tuple[str, str, Any, str, float]]) -> set[str]:
        """Apply a batch of changes; returns the equipment ids it touched (also added to :attr:`dirty`)."""
        touched: set[str] = set()
        count_lines: set[str] = set()
        latest = 0.0
        for eq, tag, value, quality, ts in changes:
            tags = self.values.get(eq)
            if tags is None:  # equipment of another plant or removed: ignore
                continue
            tags[tag] = (value, quality, ts)
            self.history[eq].append((ts, tag, value, quality))
            touched.add(eq)
            latest = max(latest, ts or 0.0)
            if tag == "part_count":
                count_lines.add(self._line_of[eq])
        for line in count_lines:
            self._parts[line].append((latest or time.time(), self.line_parts(line)))
        self.dirty |= touched
        return touched

    def load_status(self, rows: Iterable[dict[str, Any]], now: float | None = None) -> None:
        """Seed from ``TwinStore.status()`` rows (value + the row's worst quality per tag)."""
        ts_now = now if now is not None else time.time()
        skip = {"id", "type", "line", "quality", "updated"}
        for row in rows:
            eq = row["id"]
            if eq not in self.values:
                continue
            ts = row.get("updated") or ts_now
            for tag, value in row.items():
                if tag in skip or (tag == "state" and value is None and "state" not in self.values[eq]):
                    continue
                self.values[eq][tag] = (value, row.get("quality", "good"), ts)
            self.dirty.add(eq)
        for line in self._parts:
            self._parts[line].append((ts_now, self.line_parts(line)))

    def take_dirty(self) -> set[str]:
        """The equipment changed since the last call (and clear the set)."""
        out, self.dirty = self.dirty, set()
        return out

    # ------------------------------------------------------------------ reads
    def line_of(self, eq: str) -> str:
        """The line an equipment id belongs to ("" if unknown)."""
        return self._line_of.get(eq, "")

    def tag(self, eq: str, tag: str) -> Any:
        """A tag's value (None if never seen)."""
        v = self.values.get(eq, {}).get(tag)
        return v[0] if v else None

    def quality(self, eq: str) -> str | None:
        """Quality of an equipment's state: its state tag's quality (``stale`` for stale or bad), else
        ``stale`` if any tag is; None if there is no live data at all."""
        tags = self.values.get(eq) or {}
        if not tags:
            return None
        st = tags.get("state")
        if st is not None:  # one bad reading (say a NaN power value) does not grey out a station
            return "stale" if st[1] in NOT_LIVE else st[1]
        return "stale" if any(q in NOT_LIVE for _v, q, _t in tags.values()) else "good"

    def parsed_state(self, eq: str) -> StationState | None:
        """The state tag as a :class:`StationState` (None if missing or unknown)."""
        return parse_state(self.tag(eq, "state"))

    def state_name(self, eq: str) -> str:
        """The state as a word for tables and the HUD (``stale``/``-`` when not live)."""
        q = self.quality(eq)
        s = parse_state(self.tag(eq, "state"))
        if q is None:
            return "-"
        name = s.value if s is not None else "-"
        return f"{name} (stale)" if q in NOT_LIVE else name

    def line_parts(self, line: str) -> int:
        """Cars finished by a line (sum of its finishing stations' part counters)."""
        total = 0
        for eq in self._counted.get(line, []):
            v = self.tag(eq, "part_count")
            if isinstance(v, int | float) and not isinstance(v, bool):
                total += int(v)
        return total

    def throughput_per_h(self, line: str, now: float | None = None) -> float | None:
        """Cars per plant hour over the recent (wall-clock) window, or None without two samples far enough
        apart. At a simulated plant's speed ``time_scale`` a wall-clock hour holds that many plant hours."""
        samples = self._parts.get(line)
        if not samples:
            return None
        t_now = now if now is not None else samples[-1][0]
        recent = [(t, p) for t, p in samples if t >= t_now - THROUGHPUT_WINDOW_S]
        if len(recent) < 2 or recent[-1][0] - recent[0][0] < MIN_SPAN_S:
            return None
        (t0, p0), (t1, p1) = recent[0], recent[-1]
        return max(0.0, (p1 - p0) * 3600.0 / (t1 - t0) / self.time_scale)

    def line_stats(self) -> list[LineStats]:
        """Heads-up figures for every line."""
        out = []
        for line in self.plant.lines:
            energy = power = 0.0
            states: dict[str, int] = {}
            for e in line.equipment:
                if e.type not in PROCESSING_TYPES and e.type != EquipmentType.CONVEYOR:
                    continue
                for tag, acc in (("energy_kwh", "e"), ("power_kw", "p")):
                    v = self.tag(e.id, tag)
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        if acc == "e":
                            energy += float(v)
                        else:
                            power += float(v)
                name = self.state_name(e.id)
                states[name] = states.get(name, 0) + 1
            out.append(
                LineStats(
                    line.id, self.line_parts(line.id), self.throughput_per_h(line.id), energy, power, states
                )
            )
        return out

    def alarms(self) -> list[tuple[str, str]]:
        """Active alarms: ``(equipment, text)`` for equipment in Fault or with a non-empty alarm tag."""
        out = []
        for eq in self.values:
            alarm = self.tag(eq, "alarm")
            fault = parse_state(self.tag(eq, "state"))
            if alarm or (fault is not None and fault.value == "Fault"):
                out.append((eq, str(alarm) if alarm else "Fault"))
        return out


def describe(live: LiveState, eq_id: str) -> str:
    """Text shown for a picked station: its tags (value, quality) and its recent changes."""
    rows = [f"{eq_id}  ({live.line_of(eq_id)})  state {live.state_name(eq_id)}"]
    for tag, (value, quality, _ts) in sorted(live.values.get(eq_id, {}).items()):
        rows.append(f"  {tag:<14} {value!s:<14} {quality}")
    hist = list(live.history.get(eq_id, []))[-8:]
    if hist:
        rows.append("recent:")
        for ts, tag, value, quality in reversed(hist):
            rows.append(f"  {time.strftime('%H:%M:%S', time.localtime(ts))} {tag}={value} ({quality})")
    return "\n".join(rows)


class ChangeFollower:
    """Follows a twin's change stream into a :class:`LiveState`.

    ``poll(block_ms)`` reads every entry after the last one seen (blocking up to ``block_ms`` for the first
    one when there is none) and applies it; the plan version and the time scale are re-read at most once
    per ``plan_every_s``.
    """

    def __init__(
        self,
        store: TwinStore,
        state: LiveState | None = None,
        *,
        plan_every_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.state = state if state is not None else LiveState(store.plant())
        self.last_id = FIRST_ID
        self.plan_every_s = plan_every_s
        self._clock = clock
        self._plan_read_at = -1e18

    def bootstrap(self, history_s: float = THROUGHPUT_WINDOW_S, max_entries: int = 5000) -> LiveState:
        """Seed from the recent stream (for throughput and history), then from the live hashes."""
        now = self._clock()
        # The newest entries matter: on a busy stream, shrink the window until it holds < max_entries.
        window = history_s
        while True:
            start = id_at(now - window)
            entries = self.store.change_range(start, "+", count=max_entries)
            if len(entries) < max_entries or window < 5.0:
                break
            window /= 4
        for sid, _src, changes in entries:
            self.state.apply(changes)
            self.last_id = sid
        self.state.load_status(self.store.status(), now=now)
        if self.last_id == FIRST_ID:
            # Nothing newer than the window start: follow from there (tolerates client/server clock skew
            # up to the window, unlike "now"; anything older is already in the live hashes just read).
            self.last_id = start
        self._refresh_plan(force=True)
        return self.state

    def _refresh_plan(self, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._plan_read_at >= self.plan_every_s:
            self._plan_read_at = now
            self.state.plan_version = self.store.current_plan_version()
            self.state.time_scale = self.store.time_scale()

    def poll(self, block_ms: int | None = None, max_batches: int = 50) -> int:
        """Apply new stream entries; returns how many changes were applied."""
        n = 0
        for i in range(max_batches):
            entries = self.store.read_changes(self.last_id, count=1000, block_ms=block_ms if i == 0 else None)
            if not entries:
                break
            for sid, _src, changes in entries:
                self.state.apply(changes)
                self.last_id = sid
                n += len(changes)
        self._refresh_plan()
        return n

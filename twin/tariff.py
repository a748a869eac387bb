"""The plant's time-of-use tariff: which period (and price) holds at any time, and its validation.

A tariff (:class:`twin.model.EnergySettings`) lists periods by weekday and clock hour, on the same clock
as the shift calendar (UTC clock times, :mod:`twin.calendar`). Every hour of every weekday must have
exactly one period: :func:`check_energy` names the first overlap or the hours left without a price.
:class:`TariffClock` answers prices for times given in seconds from a plan's origin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from twin.model import EnergySettings, Objective, TariffPeriod, Weekday

__all__ = ["WEEK", "TariffClock", "check_energy", "period_hours", "tariff_clock"]

#: The weekdays in ``datetime.weekday()`` order (Monday first).
WEEK: tuple[Weekday, ...] = tuple(Weekday)
_HOURS_IN_WEEK = 7 * 24


def period_hours(start: int, end: int) -> list[int]:
    """The clock hours ``[start, end)`` covers; ``end < start`` runs over midnight (``[22, 8]``)."""
    if end > start:
        return list(range(start, end))
    return list(range(start, 24)) + list(range(0, end))


def _hour_text(day: int, hour: int) -> str:
    return f"{WEEK[day].value} {hour:02d}:00-{hour + 1:02d}:00"


def _missing_text(missing: list[int]) -> str:
    """Up to three runs of hours without a price, e.g. ``sun 08:00-22:00``."""
    runs: list[tuple[int, int]] = []
    for cell in missing:
        if runs and runs[-1][1] == cell and cell % 24 != 0:
            runs[-1] = (runs[-1][0], cell + 1)
        else:
            runs.append((cell, cell + 1))
    texts = [f"{WEEK[a // 24].value} {a % 24:02d}:00-{(b - 1) % 24 + 1:02d}:00" for a, b in runs[:3]]
    more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
    return ", ".join(texts) + more


def check_energy(energy: EnergySettings, fail: Callable[[str, str], NoReturn]) -> None:
    """Semantic checks of an ``energy`` section: finite numbers, one price per period name, every hour of
    every weekday priced exactly once, a tariff when the default objective is cost."""
    for name in ("contract_kw", "demand_charge_per_kw", "co2_kg_per_kwh"):
        value = getattr(energy, name)
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"energy.{name}", f"must be a finite number (got {value})")
    grid: dict[int, int] = {}
    prices: dict[str, tuple[float, int]] = {}
    for pi, period in enumerate(energy.tariff):
        path = f"energy.tariff[{pi}]"
        if not math.isfinite(period.price_per_kwh):
            fail(f"{path}.price_per_kwh", f"must be a finite number (got {period.price_per_kwh})")
        first = prices.setdefault(period.name, (period.price_per_kwh, pi))
        if first[0] != period.price_per_kwh:
            fail(
                f"{path}.price_per_kwh",
                f"period {period.name!r} costs {first[0]:g} per kWh at energy.tariff[{first[1]}], "
                f"{period.price_per_kwh:g} here: one name, one price",
            )
        _check_days(period, path, fail)
        _claim_hours(period, pi, path, grid, energy.tariff, fail)
    if energy.tariff and len(grid) < _HOURS_IN_WEEK:
        missing = [c for c in range(_HOURS_IN_WEEK) if c not in grid]
        fail(
            "energy.tariff",
            f"no price for {len(missing)} hours of the week ({_missing_text(missing)}): every hour of every "
            "weekday needs exactly one period",
        )
    if energy.objective == Objective.COST and not energy.tariff:
        fail("energy.objective", "objective 'cost' needs a tariff (energy.tariff) to price the energy")


def _check_days(period: TariffPeriod, path: str, fail: Callable[[str, str], NoReturn]) -> None:
    seen: set[Weekday] = set()
    for day in period.days:
        if day in seen:
            fail(f"{path}.days", f"{day.value} is listed twice")
        seen.add(day)


def _claim_hours(
    period: TariffPeriod,
    pi: int,
    path: str,
    grid: dict[int, int],
    tariff: list[TariffPeriod],
    fail: Callable[[str, str], NoReturn],
) -> None:
    """Mark the (weekday, hour) cells ``period`` prices; an overlap with an earlier period fails."""
    for hi, (start, end) in enumerate(period.hours):
        if start == end:
            fail(f"{path}.hours[{hi}]", f"[{start}, {end}] is empty: use [0, 24] for the whole day")
        for day in period.days:
            d = WEEK.index(day)
            for hour in period_hours(start, end):
                cell = d * 24 + hour
                if cell in grid:
                    other = grid[cell]
                    fail(
                        f"{path}.hours[{hi}]",
                        f"{_hour_text(d, hour)} is already priced by energy.tariff[{other}] "
                        f"({tariff[other].name!r}): periods must not overlap",
                    )
                grid[cell] = pi


@dataclass(frozen=True)
class TariffClock:
    """A validated tariff on a plan's clock: times are seconds from ``origin`` (epoch seconds)."""

    periods: tuple[TariffPeriod, ...]  # by (weekday * 24 + hour)
    origin: float

    def _cell(self, t: float) -> int:
        clock = datetime.fromtimestamp(self.origin + t, UTC)
        return clock.weekday() * 24 + clock.hour

    def period_at(self, t: float) -> TariffPeriod:
        """The period in force at ``t``."""
        return self.periods[self._cell(t)]

    def price_at(self, t: float) -> float:
        """The price per kWh at ``t``."""
        return self.period_at(t).price_per_kwh

    def hours(self, a: float, b: float) -> Iterator[tuple[float, float, TariffPeriod]]:
        """``[a, b)`` cut at clock hours: ``(start, end, period)`` pieces."""
        t = a
        while t < b:
            nxt = min(b, t + 3600.0 - (self.origin + t) % 3600.0)
            yield t, nxt, self.period_at(t)
            t = nxt

    def mean_price(self, a: float, b: float) -> float:
        """The time-weighted mean price over ``[a, b)`` (the price at ``a`` for an empty interval)."""
        if b <= a:
            return self.price_at(a)
        return sum((e - s) * p.price_per_kwh for s, e, p in self.hours(a, b)) / (b - a)


def tariff_clock(energy: EnergySettings | None, origin: float) -> TariffClock | None:
    """The tariff of ``energy`` on a plan's clock; None without a tariff (the section was validated)."""
    if energy is None or not energy.tariff:
        return None
    cells: list[TariffPeriod | None] = [None] * _HOURS_IN_WEEK
    for period in energy.tariff:
        for day in period.days:
            for start, end in period.hours:
                for hour in period_hours(start, end):
                    cells[WEEK.index(day) * 24 + hour] = period
    if any(c is None for c in cells):
        raise ValueError("tariff does not cover every hour of the week (validate it with twin.config)")
    return TariffClock(tuple(c for c in cells if c is not None), origin)

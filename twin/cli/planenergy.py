"""The energy side of the plan commands: ``--power-cap`` / ``--objective`` parsing and the energy lines
``twin replan``, ``twin plan show`` and ``twin plan diff`` print."""

from __future__ import annotations

import math
from typing import Any

from twin.errors import ValidationError
from twin.model import Objective

__all__ = ["check_line", "diff_lines", "energy_line", "parse_objective", "parse_power_cap"]


def parse_power_cap(text: str | None) -> float | str | None:
    """``--power-cap``: None (the plant file's contract demand), ``"off"`` (no cap) or kW > 0."""
    if text is None:
        return None
    if text.strip().lower() in ("off", "none"):
        return "off"
    try:
        kw = float(text)
    except ValueError:
        raise ValidationError(f"--power-cap must be a number of kW > 0 or 'off', got {text!r}") from None
    if not math.isfinite(kw) or kw <= 0:
        raise ValidationError(f"--power-cap must be a number of kW > 0 or 'off', got {text!r}")
    return kw


def parse_objective(text: str | None) -> Objective | None:
    """``--objective``: None (the plant file's), else cost, energy or time."""
    if text is None:
        return None
    try:
        return Objective(text.strip().lower())
    except ValueError:
        choices = ", ".join(o.value for o in Objective)
        raise ValidationError(f"--objective must be one of {choices}, got {text!r}") from None


def _money(value: Any, currency: Any) -> str:
    return f"{value:,.0f} {currency or ''}".rstrip() if isinstance(value, int | float) else "-"


def _clock(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}"


def energy_line(plan_kpis: dict[str, Any], settings: Any = None) -> str:
    """One line: kWh, kWh/vehicle, cost (kWh share per tariff period), peaks, demand charge, CO2, and the
    energy settings the plan was made with (its ``meta["energy"]``)."""
    k = plan_kpis.get("energy")
    if not isinstance(k, dict):
        return "energy: -"
    cur = k.get("currency")
    total = sum(k.get("kwh_by_period", {}).values()) or 0.0
    shares = (
        " / ".join(f"{n} {v / total:.0%}" for n, v in k.get("kwh_by_period", {}).items()) if total else ""
    )
    text = (
        f"energy {k.get('kwh')} kWh ({k.get('kwh_per_vehicle')} kWh/vehicle)"
        + f"  cost {_money(k.get('cost'), cur)}"
        + (f" ({shares} of kWh)" if shares else "")
        + f"  peak {k.get('peak_kw')} kW, 15-min {k.get('peak_kw_15min')} kW"
        + f"  demand charge {_money(k.get('demand_charge'), cur)}  CO2 {k.get('co2_kg')} kg"
    )
    if k.get("cap_kw") is not None:
        text += (
            f"  cap {k['cap_kw']:g} kW from {_clock(float(k.get('since_s') or 0))}:"
            f" peak {k.get('peak_kw_since')} kW, 15-min {k.get('peak_kw_15min_since')} kW"
        )
    if isinstance(settings, dict):
        cap = settings.get("power_cap_kw")
        source = settings.get("cap_source")
        capped = f"cap {cap:g} kW ({source})" if isinstance(cap, int | float) else "no cap"
        text += f"  made with: objective {settings.get('objective')}, {capped}"
    return text


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """The energy changes of a plan diff, one per KPI."""
    return [
        f"  energy {key}: {ch['from']} -> {ch['to']} ({ch['delta']:+})"
        for key, ch in diff.get("energy", {}).items()
    ]


def check_line(check: dict[str, Any]) -> str:
    """The simulation check's verdict: demand met, the simulated 15-minute peak per seed against the cap."""
    flags = []
    if check.get("meets_demand", check.get("ok")) is False:
        flags.append(f"MISSES DEMAND {check.get('missing')}")
    cap = check.get("cap_kw")
    if check.get("cap_broken_seeds"):
        flags.append(f"BREAKS THE {cap:g} kW CAP in seeds {check['cap_broken_seeds']}")
    peaks = check.get("peak_kw_15min_since") or check.get("peak_kw_15min") or []
    text = f"simulation check ({len(check.get('seeds', []))} seeds): {'; '.join(flags) or 'ok'}"
    if peaks:
        text += f"; 15-min peak {' / '.join(f'{p:.0f}' for p in peaks)} kW"
        if cap is not None:
            text += f" (cap {cap:g} kW from {_clock(float(check.get('cap_from_s') or 0))})"
    return text

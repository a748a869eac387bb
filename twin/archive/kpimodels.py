"""What the KPI engine on the archive returns: one typed row per period and scope, ready for charts.

Definitions (the same as the live KPIs, :mod:`twin.kpi`, which is what ``kpi_match`` of ``twin bench
history`` checks): per processing station and period, availability = Running / (observed - Off),
performance = ideal cycle x parts / Running (capped at 1), quality = good parts / parts, OEE = their
product; a line's figures are the means over its stations, its vehicles those leaving its last station (a
cell block: its finishing cells); the plant averages all stations and sums the lines' vehicles.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "DowntimeRow",
    "EnergyRow",
    "KpiHistory",
    "OeeRow",
    "ReliabilityRow",
    "ThroughputRow",
]


class OeeRow(BaseModel):
    """OEE and its factors for one station, line or the plant over one period."""

    period: str
    shift: str = ""
    start: float
    end: float
    scope: str = Field(description="station, line or plant")
    id: str
    line: str | None = None
    observed_s: float = 0.0
    running_s: float = 0.0
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None
    oee: float | None = None
    utilisation: float | None = None
    vehicles: float | None = None
    energy_kwh: float | None = None
    kwh_per_vehicle: float | None = None
    #: Seconds in each state (stations: time in state; lines and the plant: summed over stations).
    state_s: dict[str, float] = Field(default_factory=dict)


class ThroughputRow(BaseModel):
    """Cars a line finished in one period against what the plan in force asked for."""

    period: str
    start: float
    end: float
    line: str
    actual: float | None = None
    target: float | None = None
    plan_version: int | None = None


class ReliabilityRow(BaseModel):
    """Failures of one station over the range: MTBF = operating time / failures, MTTR = Fault time /
    failures (None without failures)."""

    station: str
    line: str
    failures: int = 0
    operating_s: float = 0.0
    fault_s: float = 0.0
    mtbf_s: float | None = None
    mttr_s: float | None = None


class DowntimeRow(BaseModel):
    """One bar of the downtime Pareto: a station's time in Fault, Blocked or Starved."""

    station: str
    line: str
    cause: str
    seconds: float
    share: float
    cumulative_share: float


class EnergyRow(BaseModel):
    """Energy of a line (or the plant) on one day, per vehicle, and the plant's peak 15-minute demand."""

    day: str
    start: float
    end: float
    scope: str
    id: str
    energy_kwh: float | None = None
    vehicles: float | None = None
    kwh_per_vehicle: float | None = None
    peak_15min_kw: float | None = None
    peak_at: float | None = None


class KpiHistory(BaseModel):
    """Every KPI of a range, grouped ``by`` shift, day, hour or the whole range."""

    plant: str
    by: str
    start: float
    end: float
    oee: list[OeeRow] = Field(default_factory=list)
    throughput: list[ThroughputRow] = Field(default_factory=list)
    reliability: list[ReliabilityRow] = Field(default_factory=list)
    downtime: list[DowntimeRow] = Field(default_factory=list)
    energy: list[EnergyRow] = Field(default_factory=list)
    skipped_files: int = 0

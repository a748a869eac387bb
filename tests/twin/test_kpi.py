"""Pure KPI functions over decoded changes (no Redis)."""

from __future__ import annotations

import pytest

from tests.conftest import MINI_PLANT
from twin.changes import Change
from twin.config import load_plant
from twin.kpi import compute_kpis, counter_increase, ideal_cycles, state_durations, state_name
from twin.model import Plant


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant(MINI_PLANT)


def test_state_names_from_codes_and_text() -> None:
    assert state_name(1) == "Running" and state_name(4) == "Fault" and state_name("running") == "Running"
    assert state_name(99) is None and state_name(None) is None and state_name(True) is None


def test_state_durations_clip_to_the_window() -> None:
    pts = [(5.0, 1), (20.0, 2), (40.0, 1), (120.0, 0)]
    # before t=5 the state is unknown and not counted; after the window end nothing counts
    assert state_durations(pts, 0.0, 100.0) == {"Running": 15.0 + 60.0, "Blocked": 20.0}
    # a state known from before the window (the seed) covers the start
    assert state_durations(pts, 0.0, 100.0, initial=6) == {"Off": 5.0, "Running": 75.0, "Blocked": 20.0}
    assert state_durations([(-10.0, 4)], 0.0, 10.0) == {"Fault": 10.0}


def test_counter_increase_handles_resets() -> None:
    pts = [(1.0, 10), (2.0, 12), (3.0, 2), (4.0, 5)]  # PLC restarted between 2 and 3
    assert counter_increase(pts) == 2 + 2 + 3
    assert counter_increase(pts, initial=8) == 2 + 2 + 2 + 3
    assert counter_increase([]) is None
    assert counter_increase([(1.0, "x")]) is None


def test_ideal_cycles(plant: Plant) -> None:
    c = ideal_cycles(plant)
    # a cell runs all of model B's steps per car (weld 70 + paint 90 + assemble 50)
    assert c["L1-PAINT"] == 90 and c["L2-WELD"] == 70 and c["C-1"] == 210
    assert "L1-BUF" not in c


def _batch(ts: float, *items: tuple[str, str, object]) -> list[Change]:
    return [Change(eq, tag, v, "good", ts) for eq, tag, v in items]


def test_compute_kpis_station_line_plant(plant: Plant) -> None:
    seed = [
        _batch(-5.0, ("L1-ASSY", "state", 1), ("L1-ASSY", "part_count", 100), ("L1-ASSY", "energy_kwh", 10.0))
    ]
    entries = [
        _batch(10.0, ("L1-ASSY", "part_count", 101), ("L1-ASSY", "energy_kwh", 10.5)),
        _batch(55.0, ("L1-ASSY", "part_count", 102), ("L1-ASSY", "energy_kwh", 11.0)),
        _batch(60.0, ("L1-ASSY", "state", 3)),  # starved for the rest of the window
        _batch(70.0, ("L1-WELD", "energy_kwh", 1.0)),
        _batch(80.0, ("L1-WELD", "energy_kwh", 2.0)),
    ]
    rep = compute_kpis(plant, entries, 0.0, 90.0, seed=seed)
    st = rep.stations["L1-ASSY"]
    assert st.state_s == {"Running": 60.0, "Starved": 30.0}
    assert (
        st.vehicles == 2 and st.energy_kwh == pytest.approx(1.0) and st.kwh_per_vehicle == pytest.approx(0.5)
    )
    assert st.utilisation == pytest.approx(60 / 90) and st.availability == pytest.approx(60 / 90)
    assert st.performance == pytest.approx(min(1.0, 45 * 2 / 60))
    assert st.oee == pytest.approx(st.availability * st.performance)
    assert st.throughput_per_h == pytest.approx(2 / (90 / 3600))
    line = rep.lines["L1"]
    assert line.vehicles == 2  # cars leaving the last station
    assert line.energy_kwh == pytest.approx(1.0 + 1.0)  # every piece of equipment of the line
    assert line.kwh_per_vehicle == pytest.approx(1.0)
    assert rep.plant.vehicles == 2 and rep.plant.energy_kwh == pytest.approx(2.0)
    assert rep.lines["L2"].vehicles is None and rep.stations["C-1"].utilisation is None  # no data: None
    with pytest.raises(ValueError):
        compute_kpis(plant, [], 10.0, 10.0)

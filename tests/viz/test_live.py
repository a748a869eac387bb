"""Pure logic of the viewer: state parsing, colours, live-state quality and throughput (no Redis)."""

from __future__ import annotations

from twin.model import Plant, StationState
from twin.palette import STALE_RGB, STATE_RGB, legend_entries, parse_state, state_rgb
from viz.live import LiveState, describe


def test_states_parse_from_names_and_codes() -> None:
    assert parse_state("Fault") is StationState.FAULT
    assert parse_state("running") is StationState.RUNNING
    assert parse_state(4) is StationState.FAULT and parse_state("4") is StationState.FAULT
    assert parse_state(99) is None and parse_state(True) is None and parse_state(None) is None


def test_colours_are_distinct_and_stale_wins() -> None:
    assert len(set(STATE_RGB.values()) | {STALE_RGB}) == len(StationState) + 1
    assert state_rgb("Fault", "good") == STATE_RGB[StationState.FAULT]
    assert state_rgb("Fault", "stale") == STALE_RGB == state_rgb("Fault", "bad") == state_rgb(None, "good")
    assert state_rgb("Fault", "uncertain") == STATE_RGB[StationState.FAULT]
    assert legend_entries()[0][0] == "Fault"


def test_live_state_quality_throughput_alarms(mini_plant: Plant) -> None:
    live = LiveState(mini_plant)
    assert live.quality("L1-WELD") is None and live.state_name("L1-WELD") == "-"
    live.take_dirty()
    touched = live.apply(
        [
            ("L1-ASSY", "part_count", 10, "good", 1000.0),
            ("L1-ASSY", "state", "Running", "good", 1000.0),
            ("L1-WELD", "state", "Fault", "good", 1000.0),
            ("L1-WELD", "power_kw", None, "bad", 1000.0),  # a bad reading does not grey out the station
            ("NOT-HERE", "state", "Idle", "good", 1000.0),
        ]
    )
    assert touched == {"L1-ASSY", "L1-WELD"} and live.take_dirty() == touched
    assert live.quality("L1-WELD") == "good" and ("L1-WELD", "Fault") in live.alarms()
    live.apply([("L1-ASSY", "part_count", 16, "good", 1360.0)])
    assert live.throughput_per_h("L1") == 60.0  # 6 cars in 6 minutes
    assert live.line_parts("L1") == 16
    live.apply([("L1-WELD", "state", "Fault", "stale", 1400.0)])
    assert live.state_name("L1-WELD") == "Fault (stale)"
    text = describe(live, "L1-WELD")
    assert text.startswith("L1-WELD  (L1)") and "stale" in text


def test_cell_block_counts_a_car_once_not_once_per_stage() -> None:
    from tests.conftest import DEMO_PLANT
    from twin.config import load_plant

    plant = load_plant(DEMO_PLANT)
    live = LiveState(plant)
    cells = next(line for line in plant.lines if line.kind.value == "cells")
    final_ops = {m.routing[-1].operation for m in plant.models}
    finishing = {e.id for e in cells.equipment if final_ops & set(e.operations)}
    staged = {e.id for e in cells.equipment if e.type.value == "cell"} - finishing
    assert finishing and staged  # the demo block has specialised stage cells
    t = 1000.0
    live.apply([(eq, "part_count", 10, "good", t) for eq in finishing | staged])
    assert live.line_parts(cells.id) == 10 * len(finishing)

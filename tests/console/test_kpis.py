"""The KPIs view in real headless Chromium: per line and plant, throughput against the plan's target, OEE
with its factors, energy per vehicle and the top downtime causes, drawn as charts with the numbers the API
computes from the change stream; the downtime bars use the viewer's state palette."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.console.conftest import ConsoleEnv, needs_chromium, open_console
from tests.support.wait import wait_until
from twin.model import Plan, StationState
from twin.palette import STATE_RGB, hex_color

pytestmark = [needs_chromium, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def history(console_env: ConsoleEnv) -> float:
    """Half an hour of L1: running, L1-PAINT in Fault for 5 minutes, 24 cars out of L1-ASSY, energy drawn;
    a current plan whose L1 target is 20 cars per working hour."""
    now = time.time()
    t0 = now - 1800
    changes: list[tuple[str, str, Any, str, float]] = []
    for eq in ("L1-WELD", "L1-PAINT", "L1-ASSY"):
        changes += [(eq, "state", "Running", "good", t0), (eq, "part_count", 0, "good", t0)]
        changes += [(eq, "energy_kwh", 100.0, "good", t0), (eq, "energy_kwh", 148.0, "good", now - 60)]
    changes += [
        ("L1-PAINT", "state", "Fault", "good", now - 1200),
        ("L1-PAINT", "state", "Running", "good", now - 900),
    ]
    changes += [("L1-ASSY", "part_count", n, "good", t0 + 70 * n) for n in range(1, 25)]
    console_env.store.write_changes(changes, source="test")
    kpis = {"resources": {"L1": {"line": "L1", "cars": 160, "powered_h": 8.0}}}
    console_env.store.put_plan(Plan(reason="kpi test", demand={"A": 160}, kpis=kpis))
    return now


def bar_text(driver: Any, card: str, label: str) -> str:
    sel = f"#{card} g.bar[data-label='{label}'] text.bar-value"
    return str(driver.find_element(By.CSS_SELECTOR, sel).text)


def first_number(text: str) -> float:
    m = re.search(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    assert m, text
    return float(m.group())


def test_kpis_drawn_with_the_apis_figures(browser: Any, console_env: ConsoleEnv, history: float) -> None:
    open_console(browser, console_env, "viewer", "kpis")
    wait_until("the KPI charts", lambda: browser.find_elements(By.CSS_SELECTOR, "#kpi-throughput g.bar"), 30)
    with console_env.client("viewer") as c:
        api = c.get("/api/v1/kpi", params={"window_s": 3600}).json()
    l1 = api["lines"]["L1"]
    assert l1["vehicles"] == 24
    # Throughput against the target of the current plan (160 cars / 8 working hours).
    thr = bar_text(browser, "kpi-throughput", "L1")
    assert thr.endswith("/ 20.0"), thr
    assert abs(first_number(thr) - l1["throughput_per_h"]) < 0.5
    assert browser.find_elements(By.CSS_SELECTOR, "#kpi-throughput g.bar[data-label='L1'] line.target")
    # OEE and its three factors, per line and for the plant.
    groups = [
        g.get_attribute("data-label") for g in browser.find_elements(By.CSS_SELECTOR, "#kpi-oee g.group")
    ]
    assert groups == ["L1", "L2", "C", "plant"]
    l1_bars = browser.find_elements(By.CSS_SELECTOR, "#kpi-oee g.group[data-label='L1'] text.bar-value")
    shown = dict(
        zip(["oee", "availability", "performance", "quality"], [e.text for e in l1_bars], strict=True)
    )
    for factor, text in shown.items():
        assert l1[factor] is not None and abs(first_number(text) - 100 * l1[factor]) <= 1, (factor, text)
    assert l1["availability"] < 1  # the fault counts
    # Energy per vehicle: 48 kWh on each of three stations for 24 cars.
    energy = bar_text(browser, "kpi-energy", "L1")
    assert (
        abs(first_number(energy) - l1["kwh_per_vehicle"]) < 0.01 and abs(l1["kwh_per_vehicle"] - 6.0) < 0.01
    )
    # The top downtime cause, in the state's palette colour.
    fault = browser.find_element(By.CSS_SELECTOR, "#kpi-downtime g.bar[data-label='L1-PAINT · Fault']")
    assert fault.find_element(By.CSS_SELECTOR, "text.bar-value").text == "5 min"
    fill = fault.find_elements(By.TAG_NAME, "rect")[1].get_attribute("fill")
    assert fill.lower() == hex_color(STATE_RGB[StationState.FAULT]).lower()
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#kpi-period option")]
    assert options[:3] == ["Last 15 min", "Last hour", "Last 4 hours"]
    assert any(o.startswith(("This shift (day", "Previous shift (day")) for o in options), options

"""The Plant view in real headless Chromium: the canvas shows the plant where the layout puts it, a state
written in Redis recolours that station, stale shows as stale, each browser has its own camera, a click or
the keyboard opens the station panel, and the feed resumes after a drop without duplicates."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.console.conftest import ConsoleEnv, hook, needs_chromium, open_console, screenshot
from tests.support.wait import wait_until
from tests.viz.browser import headless_chromium
from twin.model import StationState
from twin.palette import STALE_RGB, STATE_RGB

pytestmark = [needs_chromium, pytest.mark.timeout(240)]

RUNNING = STATE_RGB[StationState.RUNNING]
FAULT = STATE_RGB[StationState.FAULT]
STATIONS = ["L1-WELD", "L1-ASSY", "L2-WELD", "L2-ASSY", "C-1", "C-2"]


def _near(rgb: tuple[int, ...], want: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=False))


def _seen(driver: Any) -> list[str]:
    return list(driver.execute_script("return window.__seen"))


def _seen(driver: Any) -> list[str]:
    return list(driver.execute_script("return window.__seen"))


def _pixel(driver: Any, eq: str) -> tuple[int, ...]:
    """The screenshot's colour at the spot of ``eq`` that shows its state (median of a 3x3 patch)."""
    p = hook(driver, f"project({eq!r})")
    assert p and p["visible"], f"{eq} is not in view: {p}"
    img = screenshot(driver)
    x, y = round(p["x"]), round(p["y"])
    patch = [img.getpixel((x + dx, y + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    return tuple(sorted(c[k] for c in patch)[4] for k in range(3))


def _drag(driver: Any, element: Any, dx: int, dy: int) -> None:
    ActionChains(driver).move_to_element(element).click_and_hold().move_by_offset(dx, dy).release().perform()


def _css(driver: Any, selector: str) -> Any:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def _text(driver: Any, selector: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return str(found[0].text) if found else ""


@pytest.fixture(scope="module")
def plant_page(browser: Any, console_env: ConsoleEnv) -> Any:
    for eq in STATIONS:
        console_env.set_state(eq, "Running")
    open_console(browser, console_env, "viewer")
    wait_until("the first frame", lambda: hook(browser, "frames && window.__twin.frames()"))
    return browser


def test_canvas_shows_each_station_in_its_state_colour(plant_page: Any) -> None:
    for eq in STATIONS:
        wait_until(f"{eq} drawn Running", lambda eq=eq: _near(_pixel(plant_page, eq), RUNNING) or None, 10)
    wait_until("the header says live", lambda: _text(plant_page, ".feed-status") == "live", 10)
    floor = hook(plant_page, "project('L1-WELD')")
    assert not _near(screenshot(plant_page).getpixel((5, round(floor["y"]))), RUNNING)


def test_a_state_written_in_redis_recolours_that_station_only(
    plant_page: Any, console_env: ConsoleEnv
) -> None:
    console_env.set_state("L2-ASSY", "Fault")
    wait_until("L2-ASSY drawn Fault", lambda: _near(_pixel(plant_page, "L2-ASSY"), FAULT) or None, 10)
    for eq in ("L2-WELD", "L1-ASSY", "C-1"):
        assert _near(_pixel(plant_page, eq), RUNNING), eq
    item = plant_page.find_element(By.CSS_SELECTOR, "button.station[data-eq='L2-ASSY'] .state")
    assert item.text == "Fault"
    assert "L2-ASSY" in plant_page.find_element(By.ID, "station-announce").text
    console_env.set_state("L2-ASSY", "Fault", "stale")
    wait_until("L2-ASSY drawn stale", lambda: _near(_pixel(plant_page, "L2-ASSY"), STALE_RGB) or None, 10)
    wait_until("the list says stale", lambda: item.text == "Fault (stale)", 5)
    console_env.set_state("L2-ASSY", "Running")
    wait_until("L2-ASSY Running again", lambda: _near(_pixel(plant_page, "L2-ASSY"), RUNNING) or None, 10)


def test_a_change_made_while_another_tab_is_shown_is_drawn_on_return(
    plant_page: Any, console_env: ConsoleEnv
) -> None:
    plant_page.find_element(By.ID, "tab-kpis").click()
    wait_until("the plant view hidden", lambda: not _css(plant_page, "#view-plant")[0].is_displayed(), 5)
    frames = hook(plant_page, "frames()")
    console_env.set_state("C-1", "Fault")
    wait_until("the change arrived", lambda: hook(plant_page, "plant.live.stateText('C-1')") == "Fault", 10)
    assert hook(plant_page, "frames()") == frames  # nothing drawn while hidden
    plant_page.find_element(By.ID, "tab-plant").click()
    wait_until("C-1 drawn Fault", lambda: _near(_pixel(plant_page, "C-1"), FAULT) or None, 10)
    console_env.set_state("C-1", "Running")
    wait_until("C-1 Running again", lambda: _near(_pixel(plant_page, "C-1"), RUNNING) or None, 10)


def test_a_finished_car_travels_to_the_next_station(plant_page: Any, console_env: ConsoleEnv) -> None:
    now = time.time()
    console_env.store.write_changes([("L1-WELD", "part_count", 40, "good", now)], source="test")
    wait_until(
        "the count seen", lambda: hook(plant_page, "plant.live.value('L1-WELD', 'part_count')") == 40, 10
    )
    console_env.store.write_changes([("L1-WELD", "part_count", 41, "good", now + 1)], source="test")
    cars = wait_until(
        "a car on its way",
        lambda: [c for c in hook(plant_page, "travellers()") if c["from"] == "L1-WELD"],
        10,
    )
    x0 = cars[0]["at"][0]
    # it moves along +x (towards the buffer after L1-WELD), then arrives and disappears
    wait_until(
        "the car moved on",
        lambda: (
            any(c["at"][0] > x0 for c in hook(plant_page, "travellers()"))
            or not hook(plant_page, "travellers()")
        ),
        10,
    )
    wait_until("the car arrived", lambda: hook(plant_page, "travellers()") == [], 10)


def test_two_browsers_rotate_independently(plant_page: Any, console_env: ConsoleEnv) -> None:
    with headless_chromium(1000, 700) as other:
        open_console(other, console_env, "viewer")
        before_other = hook(other, "camera()")
        before = hook(plant_page, "camera()")
        canvas = plant_page.find_element(By.CSS_SELECTOR, ".scene canvas")
        ActionChains(plant_page).move_to_element(canvas).click_and_hold().move_by_offset(
            160, 0
        ).release().perform()
        wait_until("this browser's camera turned", lambda: hook(plant_page, "camera()") != before, 5)
        assert hook(other, "camera()") == before_other
        other_canvas = other.find_element(By.CSS_SELECTOR, ".scene canvas")
        ActionChains(other).move_to_element(other_canvas).click_and_hold().move_by_offset(
            0, 80
        ).release().perform()
        wait_until("the other browser's camera turned", lambda: hook(other, "camera()") != before_other, 5)
        turned = hook(plant_page, "camera()")
        assert turned != before and turned != hook(other, "camera()")
    plant_page.refresh()  # back to the default camera for the other tests
    wait_until("plant mounted again", lambda: hook(plant_page, "views && window.__twin.views.plant"))
    wait_until("a frame", lambda: hook(plant_page, "frames && window.__twin.frames()"))


def test_click_a_station_opens_its_panel(plant_page: Any) -> None:
    p = hook(plant_page, "project('L1-ASSY')")
    body = plant_page.find_element(By.TAG_NAME, "body")
    ActionChains(plant_page).move_to_element_with_offset(body, 0, 0).perform()
    size = body.size
    ActionChains(plant_page).move_to_element_with_offset(
        body, round(p["x"] - size["width"] / 2), round(p["y"] - size["height"] / 2)
    ).click().perform()
    wait_until("the panel of L1-ASSY", lambda: _text(plant_page, "#panel-title") == "L1-ASSY", 10)
    wait_until(
        "live tags", lambda: plant_page.find_elements(By.CSS_SELECTOR, ".panel tr[data-tag='state']"), 5
    )
    wait_until(
        "upstream link", lambda: "L1-PAINT" in plant_page.find_element(By.CSS_SELECTOR, ".links").text, 10
    )
    wait_until("KPIs", lambda: "OEE" in plant_page.find_element(By.CSS_SELECTOR, ".kpis").text, 10)
    wait_until("history chart", lambda: plant_page.find_elements(By.CSS_SELECTOR, ".history svg rect"), 10)
    plant_page.find_element(By.CSS_SELECTOR, ".panel .close").click()
    wait_until(
        "panel closed", lambda: not plant_page.find_element(By.CSS_SELECTOR, "aside.panel").is_displayed()
    )


def test_keyboard_opens_a_station_from_the_list(plant_page: Any) -> None:
    button = plant_page.find_element(By.CSS_SELECTOR, "button.station[data-eq='C-2']")
    button.send_keys(Keys.ENTER)
    wait_until("the panel of C-2", lambda: _text(plant_page, "#panel-title") == "C-2", 10)
    title = plant_page.find_element(By.ID, "panel-title")
    assert plant_page.switch_to.active_element == title
    assert button.get_attribute("aria-pressed") == "true"
    plant_page.find_element(By.CSS_SELECTOR, ".panel .close").send_keys(Keys.ENTER)
    wait_until("focus back on the list", lambda: plant_page.switch_to.active_element == button, 5)


def test_the_feed_resumes_after_a_drop_without_duplicates(plant_page: Any, console_env: ConsoleEnv) -> None:
    plant_page.execute_script(
        "window.__seen = []; window.__twin.feed.subscribe((c) => { if (c.tag === 'cycle_time_s')"
        " window.__seen.push(c.equipment + '=' + c.value); });"
    )
    wait_until("the feed connected", lambda: hook(plant_page, "feed.connected"), 10)
    plant_page.execute_script("window.__twin.feed.drop()")
    wait_until("the feed noticed", lambda: not hook(plant_page, "feed.connected"), 5)
    sent = []
    for k in range(20):  # written while the browser is (re)connecting
        console_env.store.write_changes([("C-1", "cycle_time_s", float(k), "good", 1.0 + k)], source="test")
        sent.append(f"C-1={k}")
    wait_until("reconnected", lambda: hook(plant_page, "feed.connected"), 15)
    console_env.store.write_changes([("C-1", "cycle_time_s", 99.0, "good", 99.0)], source="test")
    sent.append("C-1=99")
    seen = wait_until("every change once", lambda: _seen(plant_page) == sent and sent, 10)
    assert seen == sent and hook(plant_page, "feed.reconnects") >= 1

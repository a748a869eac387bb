"""Screenshots of the web console for the README: `python scripts/console_screenshot.py [docs/]`.

Starts `twin demo --via direct`, opens the console in headless Chromium (1600x900) and saves
docs/console.png (the Plant view with a station panel open); then drops the EV-SUV demand (900 -> 360)
through the API, presses Re-plan in the Plans view and saves docs/console-plans.png (the proposal's Gantt
diff beside the current plan).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.console import chromium, demo_process


def _wait(what: str, fn: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := fn()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)
    return got


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with demo_process(dict(os.environ)) as demo:
        driver = chromium()
        try:
            driver.set_window_size(1600, 900)
            driver.get(f"{demo.api}/#token={demo.token}")
            _wait(
                "the 3D view",
                lambda: driver.execute_script("return window.__twin && window.__twin.firstPaint"),
            )
            time.sleep(8)  # let the simulated plant run a little (states, cars on their way)
            driver.execute_script("window.__twin.plant.select('L1-MA')")
            _wait(
                "the history chart",
                lambda: driver.execute_script("return document.querySelector('.history svg')"),
            )
            time.sleep(1)
            driver.save_screenshot(str(out / "console.png"))
            with httpx.Client(base_url=demo.api, headers={"Authorization": f"Bearer {demo.token}"}) as api:
                if api.get("/api/v1/plans").json()["total"] == 0:
                    api.post(
                        "/api/v1/replan", json={}, timeout=300
                    ).raise_for_status()  # plan v1: the classic plan
                api.post("/api/v1/demand", json={"model": "EV-SUV", "quantity": 360}).raise_for_status()
            driver.execute_script("location.hash = '#plans'")
            button = _wait(
                "Re-plan", lambda: driver.execute_script("return document.getElementById('replan')")
            )
            button.click()
            _wait(
                "the proposal",
                lambda: driver.execute_script("return document.querySelector('#gantt-proposal svg')"),
                300,
            )
            time.sleep(1)
            driver.save_screenshot(str(out / "console-plans.png"))
        finally:
            driver.quit()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs")

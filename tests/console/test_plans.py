"""The Plans view in real headless Chromium against the real wiring (re-planner with its simulation check,
plan diff, dispatch through the adapters' PlanWriter to a real OPC UA server): a scheduler edits demand,
re-plans, sees the proposal beside the plan it replaces, accepts and dispatches it (each confirmed), and the
PLC receives it; a viewer sees plans with none of the controls and is refused by hand; names are text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.console.conftest import XSS_LINE_NAME, hook, needs_chromium
from tests.console.conftest_plans import XSS_MODEL, PlansEnv, plans_env
from tests.support.wait import wait_until

__all__ = ["plans_env"]

pytestmark = [needs_chromium, pytest.mark.timeout(300)]


def open_plans(driver: Any, env: PlansEnv, role: str) -> None:
    driver.get("about:blank")
    driver.get(env.console_url(role))
    wait_until("the console signed in", lambda: hook(driver, "signedIn"), 30)
    driver.execute_script("location.hash = '#plans'")
    wait_until("the plans view mounted", lambda: hook(driver, "views && window.__twin.views.plans"), 30)
    wait_until(
        "the current plan's Gantt", lambda: driver.find_elements(By.CSS_SELECTOR, "#gantt-current g.lot"), 30
    )


def status(driver: Any) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, ".plans-status").text)


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def confirm(driver: Any, expect_title: str) -> None:
    """The page's own confirm dialog is open with focus on Cancel; confirm it."""
    dialog = wait_until(
        "the confirm dialog", lambda: driver.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog[open]")
    )[0]
    assert expect_title in dialog.find_element(By.TAG_NAME, "h2").text
    assert js(driver, "return document.activeElement.className") == "cancel"
    dialog.find_element(By.CSS_SELECTOR, "button.confirm").click()
    wait_until(
        "the dialog closed", lambda: not driver.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog")
    )


def audit(env: PlansEnv) -> list[dict[str, Any]]:
    with env.client("admin") as c:
        items: list[dict[str, Any]] = c.get("/api/v1/admin/audit", params={"limit": 200}).json()["items"]
    return items


def test_scheduler_edits_demand_replans_accepts_and_dispatches(browser: Any, plans_env: PlansEnv) -> None:
    env = plans_env
    open_plans(browser, env, "scheduler")
    v1_lots = len(env.store.get_plan(1).assignments)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#gantt-current g.lot")) == v1_lots
    assert browser.find_elements(By.CSS_SELECTOR, "#gantt-current rect.shift-0")  # the day shift, shaded
    # Edit demand: B drops from 200 to 40.
    qty = browser.find_element(By.ID, "demand-B")
    qty.clear()
    qty.send_keys("40")
    browser.find_element(By.ID, "demand-save").click()
    wait_until("the demand saved", lambda: env.store.demand().get("B") == 40)
    wait_until("the saved message", lambda: "Demand saved" in status(browser))
    # Re-plan: the proposal appears beside v1 with the diff the API reports.
    browser.find_element(By.ID, "replan").click()
    box = wait_until(
        "the proposal beside v1",
        lambda: [b for b in browser.find_elements(By.ID, "plan-compare") if b.get_attribute("data-b") == "2"],
        120,
    )[0]
    assert env.store.current_plan_version() == 1  # a proposal: not current until accepted
    assert len(browser.find_elements(By.CSS_SELECTOR, "#gantt-current g.lot")) == v1_lots
    with env.client("viewer") as c:
        diff = c.get("/api/v1/plans/diff", params={"a": 1, "b": 2}).json()
    assert diff["demand"] == {"B": {"from": 200, "to": 40}}
    marked = {
        e.get_attribute("data-lot")
        for e in box.find_elements(By.CSS_SELECTOR, "#gantt-proposal g.lot")
        if e.get_attribute("data-mark")
    }
    changed = {x["lot"] for k in ("added", "moved", "reassigned", "resized") for x in diff[k]}
    assert marked == changed
    removed = {
        e.get_attribute("data-lot")
        for e in box.find_elements(By.CSS_SELECTOR, "#gantt-proposal g.ghost-removed")
    }
    assert removed == {x["lot"] for x in diff["removed"]} and removed, diff
    deltas = {
        r.get_attribute("data-kpi"): r.text
        for r in box.find_elements(By.CSS_SELECTOR, "table.kpi-deltas tbody tr")
    }
    assert {"unmet", "kwh_per_vehicle", "peak_kw", "dedicated_idle_h"} <= set(deltas)
    check = env.store.get_plan(2).meta["check"]
    verdict = box.find_element(By.CSS_SELECTOR, ".verdict-line")
    assert verdict.get_attribute("data-check") == ("ok" if check["ok"] else "failed")
    # Accept: Escape cancels (focus back on the button), then confirm.
    accept = browser.find_element(By.ID, "accept")
    dispatch = browser.find_element(By.ID, "dispatch")
    assert dispatch.get_attribute("disabled") is not None  # dispatch only after accepting
    accept.click()
    wait_until(
        "the accept dialog", lambda: browser.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog[open]")
    )
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(
        "the dialog cancelled", lambda: not browser.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog")
    )
    assert js(browser, "return document.activeElement.id") == "accept"
    assert (
        not [e for e in audit(env) if e["action"] == "plan.accept"] and env.store.current_plan_version() == 1
    )
    accept.click()
    confirm(browser, "Accept plan v2")
    wait_until("accepted", lambda: "Accepted v2" in status(browser))
    assert env.store.current_plan_version() == 2
    assert [(e["actor"], e["detail"]["version"]) for e in audit(env) if e["action"] == "plan.accept"] == [
        ("test-scheduler", 2)
    ]
    # Dispatch: the real PLC receives v2.
    before = len(env.plc.loads())
    dispatch = browser.find_element(By.ID, "dispatch")
    assert dispatch.get_attribute("disabled") is None
    dispatch.click()
    confirm(browser, "Dispatch plan v2")
    wait_until("dispatched", lambda: "Dispatched v2" in status(browser), 60)
    loads = env.plc.loads()[before:]
    assert {(line, v) for line, v, _seq in loads} == {(ln.id, 2) for ln in env.plant.lines}
    l2 = next(json.loads(seq) for line, _v, seq in loads if line == "L2")
    assert sum(x["quantity"] for x in l2 if x["model"] == "B") <= 40
    trail = audit(env)
    sent = [e for e in trail if e["action"] == "plan.dispatch" and e["actor"] == "test-scheduler"]
    assert len(sent) == 1 and sent[0]["detail"]["version"] == 2 and sent[0]["result"] == "ok"
    writes = [e for e in trail if e["action"] == "plan.write" and e["detail"]["version"] == 2]
    assert {e["detail"]["line"] for e in writes} == {"L1", "L2", "C"} and all(
        e["result"] == "accepted" for e in writes
    )
    assert "accepted" in status(browser) and "error" not in status(browser)


def test_viewer_is_offered_nothing_and_refused_by_hand(browser: Any, plans_env: PlansEnv) -> None:
    env = plans_env
    open_plans(browser, env, "viewer")
    for control in (
        "replan",
        "demand-save",
        "dispatch-current",
        "accept",
        "dispatch",
        "discard",
        "roll-back",
    ):
        assert not browser.find_elements(By.ID, control), control
    assert not browser.find_elements(By.CSS_SELECTOR, ".plans input")
    assert browser.find_elements(By.CSS_SELECTOR, "table.history tbody tr")
    # The viewer may compare plans, but gets no accept or dispatch there either.
    browser.find_element(By.CSS_SELECTOR, "button.compare-btn").click()
    wait_until("the comparison", lambda: browser.find_elements(By.CSS_SELECTOR, "#gantt-proposal g.lot"), 30)
    assert not browser.find_elements(By.CSS_SELECTOR, ".compare-actions button")
    versions = env.store.plan_versions()
    current = env.store.current_plan_version()
    with env.client("viewer") as c:
        for path, body in (
            ("/api/v1/replan", None),
            ("/api/v1/demand", {"model": "B", "quantity": 1}),
            (f"/api/v1/plans/{versions[0]}/accept", None),
            (f"/api/v1/plans/{current}/dispatch", None),
        ):
            r = c.post(path, json=body)
            assert r.status_code == 403 and "needs the scheduler role" in r.json()["error"]["message"], path
    # ... and from the browser itself, with the viewer's token as the console holds it.
    code = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const auth = {Authorization: 'Bearer ' + sessionStorage.getItem('twin.token')};"
        "fetch('/api/v1/replan', {method: 'POST', headers: auth})"
        ".then((r) => done(r.status));"
    )
    assert code == 403
    assert env.store.plan_versions() == versions and env.store.current_plan_version() == current
    assert env.store.demand()["B"] == 40


def test_names_from_the_plant_file_render_as_text(browser: Any, plans_env: PlansEnv) -> None:
    open_plans(browser, plans_env, "viewer")
    legend = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".plan-current .legend-models li")]
    assert f"{XSS_MODEL} (A)" in legend
    titles = js(
        browser,
        "return [...document.querySelectorAll('#gantt-current .row-label title')].map(t => t.textContent)",
    )
    assert f"L2: {XSS_LINE_NAME}" in titles
    browser.find_element(By.CSS_SELECTOR, ".plan-current .lots-details summary").click()
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".plan-current table.lots td")]
    assert XSS_MODEL in cells
    assert js(browser, "return document.querySelectorAll('img, script:not([src])').length") == 0
    assert js(browser, "return window.__xss === undefined")

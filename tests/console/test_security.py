"""The console's security in real Chromium: hostile names are text, the token leaves the address bar and
never reaches a URL, what a viewer may not do is neither offered nor accepted, a revoked token signs out."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from tests.console.conftest import (
    XSS_LINE_NAME,
    XSS_NAME,
    XSS_STATION,
    ConsoleEnv,
    hook,
    needs_chromium,
    open_console,
)
from tests.support.wait import wait_until

pytestmark = [needs_chromium, pytest.mark.timeout(240)]


def _no_alert(driver: Any) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_html_in_plant_names_is_shown_as_text_and_never_runs(browser: Any, console_env: ConsoleEnv) -> None:
    open_console(browser, console_env, "viewer")
    item = browser.find_element(By.CSS_SELECTOR, f"button.station[data-eq='{XSS_STATION}'] .long")
    assert item.text == XSS_NAME
    lines = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".stations h3")]
    assert f"L2: {XSS_LINE_NAME}" in lines
    item.click()
    title = wait_until("the panel", lambda: browser.find_elements(By.ID, "panel-title"), 10)[0]
    assert title.text == f"{XSS_STATION}: {XSS_NAME}"
    # nothing was parsed as markup: no <img src=x>, no injected <script>, no alert, no global set
    assert browser.execute_script("return document.querySelectorAll('img, script:not([src])').length") == 0
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert _no_alert(browser)


def test_token_leaves_the_url_and_stays_in_the_tab(browser: Any, console_env: ConsoleEnv) -> None:
    token = console_env.tokens["viewer"]
    open_console(browser, console_env, "viewer")
    assert token not in browser.current_url and "token" not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('twin.token')") == token
    assert browser.execute_script("return localStorage.length") == 0
    assert browser.execute_script("return document.cookie") == ""
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert fetched and not [u for u in fetched if token in u]
    feed_url = browser.execute_script("return window.__twin.plant.feed._ws.url")
    assert "/api/v1/ws/changes" in feed_url and token not in feed_url  # the token is a subprotocol
    browser.refresh()  # the tab keeps its session
    wait_until("signed in after reload", lambda: hook(browser, "signedIn"), 20)
    assert token not in browser.current_url


def test_a_viewer_is_not_offered_replan_and_the_api_refuses_it(browser: Any, console_env: ConsoleEnv) -> None:
    open_console(browser, console_env, "viewer", tab="plans")
    assert hook(browser, "tabs") == ["plant", "plans", "kpis"]
    assert browser.find_elements(By.ID, "tab-admin") == []
    assert browser.find_elements(By.ID, "replan") == []
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/v1/replan', {method: 'POST', headers: {Authorization: 'Bearer ' +"
        " sessionStorage.getItem('twin.token'), 'Content-Type': 'application/json'}, body: '{}'})"
        ".then((r) => r.json().then((b) => done([r.status, b.error.code])));"
    )
    assert status == [403, "forbidden"]
    open_console(browser, console_env, "scheduler", tab="plans")
    wait_until("re-plan offered to a scheduler", lambda: browser.find_elements(By.ID, "replan"), 10)


def test_a_revoked_token_signs_out_with_a_reason(browser: Any, console_env: ConsoleEnv) -> None:
    with console_env.client("admin") as adm:
        made = adm.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "soon revoked"}).json()
    browser.get("about:blank")
    browser.get(f"{console_env.url}/#token={made['token']}")
    wait_until("plant view", lambda: hook(browser, "views && window.__twin.views.plant"), 30)
    with console_env.client("admin") as adm:
        assert adm.delete(f"/api/v1/admin/tokens/{made['id']}").status_code == 200
    browser.find_element(By.CSS_SELECTOR, "button.station[data-eq='L1-WELD']").click()  # needs the API
    message = wait_until("the sign-in form", lambda: browser.find_elements(By.ID, "login-message"), 10)[0]
    assert "expired or revoked" in message.text
    assert browser.execute_script("return sessionStorage.getItem('twin.token')") is None
    assert browser.find_elements(By.CSS_SELECTOR, "header.top") == []


def test_sign_in_form_refuses_a_bad_token_and_accepts_a_good_one(
    browser: Any, console_env: ConsoleEnv
) -> None:
    browser.get("about:blank")
    browser.get(console_env.url + "/")
    box = wait_until("the sign-in form", lambda: browser.find_elements(By.ID, "token-input"), 10)[0]
    box.send_keys("twn_not-a-token\n")
    wait_until("refused", lambda: "refused" in browser.find_element(By.ID, "login-message").text, 10)
    box = browser.find_element(By.ID, "token-input")
    box.send_keys(console_env.tokens["admin"] + "\n")
    wait_until("signed in as admin", lambda: hook(browser, "role") == "admin", 10)
    assert hook(browser, "tabs") == ["plant", "plans", "kpis", "admin"]
    browser.find_element(By.ID, "sign-out").click()
    wait_until("signed out", lambda: browser.find_elements(By.ID, "token-input"), 10)
    assert browser.execute_script("return sessionStorage.getItem('twin.token')") is None

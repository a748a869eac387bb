"""The Admin view in real headless Chromium: the write-back kill switch (confirmed, with a reason, audited,
dispatch refused while off), tokens issued (shown once) and revoked (refused at once, sign-in says so), the
audit log paged, the data sources per line; only an admin is offered the tab. Names render as text."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.console.conftest import XSS_LINE_NAME, XSS_NAME, ConsoleEnv, hook, needs_chromium, open_console
from tests.support.wait import wait_until
from twin.model import Plan

pytestmark = [needs_chromium, pytest.mark.timeout(180)]


def dialog_confirm(driver: Any, title: str, reason: str | None = None) -> None:
    dialog = wait_until(
        "the confirm dialog", lambda: driver.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog[open]")
    )[0]
    assert title in dialog.find_element(By.TAG_NAME, "h2").text
    if reason is not None:
        field = driver.switch_to.active_element
        assert field.get_attribute("id") == "confirm-input"
        field.send_keys(reason)
    dialog.find_element(By.CSS_SELECTOR, "button.confirm").click()
    wait_until(
        "the dialog closed", lambda: not driver.find_elements(By.CSS_SELECTOR, "dialog.confirm-dialog")
    )


def text_of(driver: Any, element_id: str) -> str:
    """An element's text read in one script call (the view may replace the element meanwhile)."""
    return str(
        driver.execute_script(
            f"const e = document.getElementById({element_id!r}); return e ? e.textContent : ''"
        )
    )


def audit(env: ConsoleEnv, limit: int = 100) -> list[dict[str, Any]]:
    with env.client("admin") as c:
        items: list[dict[str, Any]] = c.get("/api/v1/admin/audit", params={"limit": limit}).json()["items"]
    return items


def test_only_an_admin_is_offered_the_admin_tab(browser: Any, console_env: ConsoleEnv) -> None:
    for role in ("viewer", "scheduler"):
        open_console(browser, console_env, role)
        assert "admin" not in hook(browser, "tabs") and not browser.find_elements(By.ID, "tab-admin")
        with console_env.client(role) as c:
            assert c.get("/api/v1/admin/tokens").status_code == 403
            assert c.put("/api/v1/admin/writeback", json={"enabled": False}).status_code == 403
    assert console_env.store.writeback_enabled()


def test_kill_switch_is_confirmed_audited_and_stops_dispatch(browser: Any, console_env: ConsoleEnv) -> None:
    env = console_env
    version = env.store.put_plan(Plan(reason="admin test", demand={"A": 1}))
    open_console(browser, env, "admin", "admin")
    toggle = wait_until("the switch", lambda: browser.find_elements(By.ID, "writeback-toggle"), 30)[0]
    assert toggle.text.startswith("Switch write-back off")
    toggle.click()
    dialog_confirm(browser, "Switch write-back off?", reason="PLC maintenance <b>L2</b>")
    wait_until("write-back off", lambda: not env.store.writeback_enabled())
    state = wait_until(
        "the switch shown off",
        lambda: [
            e
            for e in browser.find_elements(By.ID, "writeback-state")
            if e.get_attribute("data-enabled") == "false"
        ],
    )[0]
    assert state.text.startswith("Off")
    trail = audit(env, 10)
    assert any(
        e["action"] == "writeback.switch" and e["actor"] == "test-admin" and e["detail"]["enabled"] is False
        for e in trail
    )
    assert any(
        e["action"] == "writeback.reason" and e["detail"]["reason"] == "PLC maintenance <b>L2</b>"
        for e in trail
    )
    with env.client("scheduler") as c:
        r = c.post(f"/api/v1/plans/{version}/dispatch")
    assert r.status_code == 409 and "kill switch" in r.json()["error"]["message"]
    assert env.dispatched == []
    audit_cells = [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, "#audit table.audit td.audit-detail")
    ]
    assert any("PLC maintenance <b>L2</b>" in t for t in audit_cells)
    browser.find_element(By.ID, "writeback-toggle").click()
    dialog_confirm(browser, "Switch write-back on?")
    wait_until("write-back on again", lambda: env.store.writeback_enabled())


def test_tokens_issued_then_revoked(browser: Any, console_env: ConsoleEnv) -> None:
    env = console_env
    open_console(browser, env, "admin", "admin")
    name = wait_until("the token form", lambda: browser.find_elements(By.ID, "token-name"), 30)[0]
    name.send_keys(XSS_NAME)
    browser.find_element(By.CSS_SELECTOR, "#token-role option[value='scheduler']").click()
    browser.find_element(By.ID, "token-issue").click()
    shown = wait_until("the new token", lambda: browser.find_elements(By.ID, "new-token"), 30)[0]
    token = shown.get_attribute("value")
    assert token.startswith("twn_") and browser.switch_to.active_element.get_attribute("id") == "new-token"
    row = browser.find_element(By.CSS_SELECTOR, "#tokens table.tokens tbody tr")
    assert row.find_elements(By.TAG_NAME, "td")[0].text == XSS_NAME
    tid = row.get_attribute("data-token")
    with env.client(None) as anon:
        me = anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"name": XSS_NAME, "role": "scheduler"}
    # The token signs in to the console (as a scheduler: no Admin tab).
    browser.get("about:blank")
    browser.get(f"{env.url}/#token={token}")
    wait_until("signed in with the issued token", lambda: hook(browser, "signedIn"), 30)
    assert hook(browser, "role") == "scheduler"
    # Revoke it from the Admin view.
    open_console(browser, env, "admin", "admin")
    revoke = wait_until(
        "the revoke button",
        lambda: browser.find_elements(By.CSS_SELECTOR, f"tr[data-token='{tid}'] button.revoke"),
        30,
    )
    revoke[0].click()
    dialog_confirm(browser, "Revoke the token")
    wait_until(
        "revoked",
        lambda: browser.find_elements(By.CSS_SELECTOR, f"tr[data-token='{tid}'][data-state='revoked']"),
    )
    with env.client(None) as anon:
        r = anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert [e["action"] for e in audit(env, 20) if e["detail"].get("id") == tid] == [
        "token.revoke",
        "token.create",
    ]
    browser.get("about:blank")
    browser.get(f"{env.url}/#token={token}")
    msg = wait_until(
        "the refusal", lambda: browser.find_elements(By.CSS_SELECTOR, "#login-message.error"), 30
    )[0]
    assert "refused" in msg.text and not hook(browser, "signedIn")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0


def test_audit_log_pages_and_sources_per_line(browser: Any, console_env: ConsoleEnv) -> None:
    env = console_env
    with env.client("scheduler") as c:
        for q in range(30):
            assert c.post("/api/v1/demand", json={"model": "B", "quantity": q}).is_success
    env.set_state("L1-WELD", "Running", quality="stale")
    open_console(browser, env, "admin", "admin")
    rng = wait_until("the audit pager", lambda: browser.find_elements(By.ID, "audit-range"), 30)[0]
    total = env.store.audit_length()
    assert rng.text == f"1\u201325 of {total}, newest first"
    first = browser.find_element(By.CSS_SELECTOR, "#audit tbody tr").text
    assert "demand.set" in first and "quantity=29" in first
    browser.find_element(By.ID, "audit-older").click()
    wait_until("page two", lambda: text_of(browser, "audit-range").startswith("26\u2013"))
    focused = "audit-older" if total > 50 else "audit-newer"  # the last page: focus the way back
    assert browser.switch_to.active_element.get_attribute("id") == focused
    browser.find_element(By.ID, "audit-newer").click()
    wait_until("page one again", lambda: text_of(browser, "audit-range").startswith("1\u201325"))
    rows = {
        r.get_attribute("data-line"): r for r in browser.find_elements(By.CSS_SELECTOR, "#sources tbody tr")
    }
    assert set(rows) == {"L1", "L2", "C"}
    l1 = [td.text for td in rows["L1"].find_elements(By.TAG_NAME, "td")]
    assert l1[1] == "opc.tcp://127.0.0.1:4841" and "L1-WELD" in l1[4]
    assert rows["L2"].find_elements(By.TAG_NAME, "td")[0].text == f"L2 · {XSS_LINE_NAME}"
    assert browser.execute_script("return window.__xss === undefined")

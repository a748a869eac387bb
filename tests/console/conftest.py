"""Console fixtures: the mini plant (with hostile names) in a private redis-server, the API serving the
console over real HTTP, tokens for every role, and one headless Chromium per test module."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import make_tokens, simple_replan
from tests.conftest import MINI_PLANT
from tests.support.wait import wait_until
from tests.viz.browser import chromium_available, headless_chromium
from twin.api import ApiServerHandle, ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.model import Plant
from twin.store import TwinStore

#: Names a plant file may carry: they must show as text, never run.
XSS_STATION = "L1-PAINT"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_LINE_NAME = "<script>window.__xss = 1</script>"

NO_CHROMIUM = "Debian chromium/chromium-driver not installed"
needs_chromium = pytest.mark.skipif(not chromium_available(), reason=NO_CHROMIUM)


@dataclass
class ConsoleEnv:
    """A running API with the console, and what tests need to drive it."""

    store: TwinStore
    plant: Plant
    server: ApiServerHandle
    tokens: dict[str, str]
    dispatched: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def console_url(self, role: str, tab: str | None = None) -> str:
        """The console with a role's token in the fragment (as `twin demo` prints it)."""
        return f"{self.url}/#token={self.tokens[role]}" if tab is None else f"{self.url}/#{tab}"

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def set_state(self, equipment: str, state: str, quality: str = "good") -> None:
        self.store.write_changes([(equipment, "state", state, quality, time.time())], source="test")


def hostile_plant(tmp: Path) -> Plant:
    """The mini plant with a station and a line whose names are HTML."""
    doc = yaml.safe_load(MINI_PLANT.read_text())
    for line in doc["lines"]:
        if line["id"] == "L2":
            line["name"] = XSS_LINE_NAME
        for eq in line["equipment"]:
            if eq["id"] == XSS_STATION:
                eq["name"] = XSS_NAME
    path = tmp / "hostile-plant.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_plant(path)


@pytest.fixture(scope="package")
def console_redis() -> Iterator[EmbeddedRedis]:
    """The console tests' own redis-server."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="module")
def console_env(
    console_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleEnv]:
    """The hostile mini plant, every station Running, served by the API with a re-planner and dispatcher."""
    store = TwinStore.from_url(console_redis.url)
    store.client.flushall()
    plant = hostile_plant(tmp_path_factory.mktemp("console"))
    store.load_plant(plant)
    now = time.time()
    store.write_changes([(e.id, "state", "Running", "good", now) for e in plant.equipment()], source="test")
    tokens, text = make_tokens()
    dispatched: list[int] = []

    def dispatch(version: int) -> dict[str, Any]:
        dispatched.append(version)
        return {"dispatched": version, "at": time.time()}

    app = create_app(
        store,
        ApiSettings(tokens=parse_tokens(text), ws_block_ms=100),
        replan=lambda: simple_replan(store),
        dispatch=dispatch,
    )
    server = run_api_in_thread(app)
    try:
        yield ConsoleEnv(store=store, plant=plant, server=server, tokens=tokens, dispatched=dispatched)
    finally:
        server.stop()
        store.client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium shared by a test module (sign in again with :func:`open_console`)."""
    if not chromium_available():
        pytest.skip(NO_CHROMIUM)
    with headless_chromium(1366, 768) as driver:
        yield driver


def open_console(driver: Any, env: ConsoleEnv, role: str, tab: str = "plant", timeout: float = 30) -> None:
    """Open the console signed in as ``role`` (fresh tab session) and wait until ``tab`` is mounted."""
    driver.get("about:blank")
    driver.get(env.console_url(role))
    if tab != "plant":
        wait_until("the console signed in", lambda: hook(driver, "signedIn"), timeout)
        driver.execute_script(f"location.hash = '#{tab}'")
    mounted = f"views && window.__twin.views[{tab!r}]"
    wait_until(f"the {tab} view mounted", lambda: hook(driver, mounted), timeout)


def hook(driver: Any, expr: str) -> Any:
    """``window.__twin.<expr>`` in the page (None before the console set its hooks up)."""
    return driver.execute_script(f"return window.__twin ? (window.__twin.{expr}) : null")


def screenshot(driver: Any) -> Any:
    """The page as an RGB PIL image (CSS pixels: the tests' driver runs at device pixel ratio 1)."""
    from PIL import Image

    return Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")

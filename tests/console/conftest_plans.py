"""The Plans view's environment: the hostile mini plant (a model, a line and a station named as HTML) served
by the API with the real wiring (the scheduler's re-planner with its simulation check, its plan diff, and
dispatch through the adapters' PlanWriter to a real OPC UA server that holds every line's plan object)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from adapters.opcua.writeback import PlanWriter
from benchmarks.tagserver import TagServer, build_server, plant_tags
from tests.api.conftest import make_tokens
from tests.conftest import MINI_PLANT
from tests.console.conftest import XSS_LINE_NAME, XSS_NAME, XSS_STATION
from tests.helpers import free_port
from twin.api import ApiServerHandle, ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.api.wiring import scheduler_wiring
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.model import Plant
from twin.store import TwinStore

__all__ = ["XSS_MODEL", "PlansEnv", "RealPlc", "plans_env"]

#: The display name of model A in the hostile plant.
XSS_MODEL = XSS_NAME


class RealPlc:
    """An OPC UA server (asyncua, over TCP) with a plan object per line, on its own event-loop thread."""

    def __init__(self, plant: Plant) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-plc", daemon=True)
        self.thread.start()
        lines = [line.id for line in plant.lines]
        coro = build_server(free_port(), plant_tags(plant), plan_lines=lines)
        self.server: TagServer = asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    @property
    def url(self) -> str:
        return self.server.url

    def loads(self) -> list[tuple[str, int, str]]:
        """Every plan the PLC accepted: ``(line, version, sequence JSON)``."""
        return list(self.server.plan_loads)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@dataclass
class PlansEnv:
    """The running API, its store, tokens and the PLC receiving plans."""

    store: TwinStore
    plant: Plant
    server: ApiServerHandle
    tokens: dict[str, str]
    plc: RealPlc

    @property
    def url(self) -> str:
        return self.server.url

    def console_url(self, role: str) -> str:
        return f"{self.url}/#token={self.tokens[role]}"

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def hostile_planning_plant(tmp: Path) -> Plant:
    """The mini plant with model A, line L2 and station L1-PAINT named as HTML."""
    doc = yaml.safe_load(MINI_PLANT.read_text())
    for line in doc["lines"]:
        if line["id"] == "L2":
            line["name"] = XSS_LINE_NAME
        for eq in line["equipment"]:
            if eq["id"] == XSS_STATION:
                eq["name"] = XSS_NAME
    for m in doc["models"]:
        if m["id"] == "A":
            m["name"] = XSS_MODEL
    path = tmp / "hostile-planning-plant.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_plant(path)


@pytest.fixture(scope="module")
def plans_env(console_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlansEnv]:
    """The hostile plant in a clean Redis; plan v1 made by the real re-planner; the API and the PLC up."""
    store = TwinStore.from_url(console_redis.url)
    store.client.flushall()
    plant = hostile_planning_plant(tmp_path_factory.mktemp("plans"))
    store.load_plant(plant)
    now = time.time()
    store.write_changes([(e.id, "state", "Running", "good", now) for e in plant.equipment()], source="test")
    plc = RealPlc(plant)
    writer = PlanWriter(plant, store, None, actor="api", endpoints={ln.id: plc.url for ln in plant.lines})
    wiring = scheduler_wiring(store, writer)
    tokens, text = make_tokens()
    settings = ApiSettings(tokens=parse_tokens(text), ws_block_ms=100)
    app = create_app(
        store,
        settings,
        replan=wiring.replan,
        propose=wiring.propose,
        dispatch=wiring.dispatch,
        diff=wiring.diff,
    )
    server = run_api_in_thread(app)
    env = PlansEnv(store=store, plant=plant, server=server, tokens=tokens, plc=plc)
    try:
        with env.client("scheduler") as c:
            assert c.post("/api/v1/replan").json()["version"] == 1
        yield env
    finally:
        server.stop()
        plc.stop()
        store.client.close()

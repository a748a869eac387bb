"""API fixtures: a private redis-server, the mini plant, tokens for every role, the app served by uvicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import MINI_PLANT
from twin.api import ApiServerHandle, ApiSettings, create_app, run_api_in_thread
from twin.api.auth import Role, new_token, parse_tokens
from twin.archive import ArchiveFs, Follower
from twin.archive.reader import ArchiveReader
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.model import Plan, PlanAssignment
from twin.store import TwinStore


@dataclass
class ApiEnv:
    """A running API and what tests need to talk to it."""

    store: TwinStore
    server: ApiServerHandle
    tokens: dict[str, str]
    dispatched: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def make_tokens() -> tuple[dict[str, str], str]:
    """One token per role (named after the role) and the tokens-file text that accepts them."""
    tokens: dict[str, str] = {}
    lines = ["# generated for the tests"]
    for role in Role:
        tok, line = new_token(role, f"test-{role.label}")
        tokens[role.label] = tok
        lines.append(line)
    return tokens, "\n".join(lines) + "\n"


def simple_replan(store: TwinStore, propose: bool = False) -> Plan:
    """A stand-in re-planner for API wiring tests: one lot per model with demand, stored as a new version
    (as a proposal, not current, with ``propose``)."""
    demand = store.demand()
    plan = Plan(
        reason="api test",
        demand=demand,
        assignments=[
            PlanAssignment(
                resource="L1" if m == "A" else "L2", model=m, quantity=q, start_s=0, end_s=60.0 * q
            )
            for m, q in sorted(demand.items())
            if q > 0
        ],
        kpis={"units": sum(demand.values())},
        meta={"replan_s": 0.01, "proposed": propose, "base_version": store.current_plan_version()},
    )
    v = store.put_plan(plan, make_current=not propose)
    return store.get_plan(v)


@pytest.fixture(scope="package")
def api_redis() -> Iterator[EmbeddedRedis]:
    """The API tests' own redis-server."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="module")
def api_env(api_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """The mini plant in a clean Redis, served by the API with a re-planner, a dispatcher and a history
    archive wired in."""
    store = TwinStore.from_url(api_redis.url)
    store.client.flushall()
    store.load_plant(load_plant(MINI_PLANT))
    data = ArchiveFs(str(tmp_path_factory.mktemp("archive")))
    Follower(store, data, store.plant_id).catch_up()
    tokens, text = make_tokens()
    dispatched: list[int] = []

    def dispatch(version: int) -> dict[str, Any]:
        dispatched.append(version)
        return {"dispatched": version, "at": time.time()}

    app = create_app(
        store,
        ApiSettings(tokens=parse_tokens(text), ws_block_ms=100),
        replan=lambda _request=None: simple_replan(store),
        propose=lambda _request=None: simple_replan(store, propose=True),
        dispatch=dispatch,
        archive=ArchiveReader(data, store.plant_id),
    )
    server = run_api_in_thread(app)
    try:
        yield ApiEnv(store=store, server=server, tokens=tokens, dispatched=dispatched)
    finally:
        server.stop()
        store.client.close()

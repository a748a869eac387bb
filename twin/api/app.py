"""The FastAPI application, built around the store (and optional re-plan/dispatch functions) it is handed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.api.auth import TokenRegistry
from twin.api.deps import ApiContext, ApiSettings, Counters, DiffFn, DispatchFn, ProposeFn, ReplanFn
from twin.api.errors import ERROR_RESPONSES, install_error_handlers
from twin.api.limits import BodySizeLimit
from twin.api.ws import ChangeHub
from twin.store import TwinStore

__all__ = ["DESCRIPTION", "create_app"]

DESCRIPTION = """
REST and WebSocket access to the sdf-twin digital twin.

* **Auth**: `Authorization: Bearer <token>`; roles viewer < scheduler < admin. Reads need viewer, demand
  and re-plan need scheduler, the write-back kill switch and configuration need admin. `twin token new ROLE`
  makes a token. WebSocket: `?token=` or the subprotocols `twin.v1` + `bearer.<token>`.
* **Errors**: every 4xx/5xx is `{"error": {"code", "message", "field"?}}`.
* **Lists** are paginated with `limit`/`offset` and report `total` and `next_offset`.
* **Live feed**: `GET /api/v1/ws/changes` (WebSocket), filters `line`, `station`, `tag`; resume with
  `after=<last id>` to receive every change exactly once.
* **History** comes from the capped change stream (`MAXLEN ~ 200000` batches);
  `/api/v1/history/retention` tells how far back it reaches now.
"""


class _CountResponses:
    """Counts responses by method and status for /metrics (pure ASGI, no per-request task overhead)."""

    def __init__(self, app: ASGIApp, counters: Counters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")

        async def counting_send(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                self.counters.count(method, int(msg["status"]))
            await send(msg)

        await self.app(scope, receive, counting_send)


def create_app(
    store: TwinStore,
    settings: ApiSettings | None = None,
    *,
    replan: ReplanFn | None = None,
    dispatch: DispatchFn | None = None,
    diff: DiffFn | None = None,
    propose: ProposeFn | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The API app around ``store``.

    ``replan`` (re-plan now, return the stored plan) and ``dispatch`` (push a plan version through the
    write-back channel) are wired in by the caller; without them those endpoints answer 503 with a reason.
    ``diff`` describes plan changes (default: :func:`twin.schedule.plant.plans.plan_diff`); ``propose``
    re-plans into a proposal that becomes current only when accepted (``POST /replan {"propose": true}``).
    """
    from twin.api import ops
    from twin.api.console import mount_console
    from twin.api.routers import adapters, admin, graph, kpi, layout, planning, plans, sources, state, tokens
    from twin.api.ws import router as ws_router

    cfg = settings or ApiSettings()
    ctx = ApiContext(
        store=store,
        settings=cfg,
        registry=TokenRegistry(cfg.tokens),
        replan=replan,
        dispatch=dispatch,
        diff=diff,
        propose=propose,
        clock=clock,
    )
    ctx.hub = ChangeHub(store, block_ms=cfg.ws_block_ms, queue_max=cfg.ws_queue_max)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            ctx.hub.stop()

    app = FastAPI(
        title=cfg.title,
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    modules = (ops, graph, state, adapters, kpi, plans, admin, layout, planning, tokens, sources)
    for r in (*(m.router for m in modules), ws_router):
        app.include_router(r)
    mount_console(app)
    app.add_middleware(BodySizeLimit, max_bytes=cfg.max_body_bytes)
    app.add_middleware(_CountResponses, counters=ctx.counters)
    return app

"""What every router needs: the app context (store, settings, wired functions), auth and audit helpers."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from twin.api.auth import Principal, Role, TokenEntry, TokenRegistry
from twin.api.errors import ApiError
from twin.api.issued import issued_principal
from twin.api.lockout import AuthLimiter
from twin.model import Equipment, Plan
from twin.schedule.plant.energychoice import EnergyRequest
from twin.store import TwinStore

__all__ = [
    "ApiContext",
    "ApiSettings",
    "Counters",
    "DiffFn",
    "DispatchFn",
    "Page",
    "ProposeFn",
    "ReplanFn",
    "admin",
    "authenticate",
    "bearer",
    "get_ctx",
    "known_equipment",
    "known_line",
    "page_params",
    "paginate",
    "require",
    "scheduler",
    "viewer",
]

log = logging.getLogger("twin.api")


class ReplanFn(Protocol):
    """Re-plans now and returns the stored plan (the scheduler's re-planner, wired in by the CLI or the
    demo); with a request, under its energy settings (power cap, objective) instead of the defaults."""

    def __call__(self, request: EnergyRequest | None = None, /) -> Plan: ...


#: Re-plans now and stores the result as a proposal (a new version, not current until accepted); takes
#: the same energy request.
ProposeFn = ReplanFn
#: Dispatches a plan version to the line through the write-back channel; returns a summary.
DispatchFn = Callable[[int], dict[str, Any]]
#: Describes what changed between two plans.
DiffFn = Callable[[Plan, Plan], dict[str, Any]]


class ApiSettings(BaseModel):
    """Settings of the API, built once by the CLI (or a test) and handed to :func:`create_app`."""

    tokens: list[TokenEntry] = Field(
        default_factory=list, description="accepted tokens (hashes, roles, names)"
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=256)
    history_scan_entries: int = Field(
        default=20_000, ge=100, description="stream entries one history request may scan at most"
    )
    kpi_max_entries: int = Field(default=200_000, ge=100, description="stream entries a KPI window may read")
    kpi_seed_entries: int = Field(
        default=2_000, ge=0, description="entries before a KPI window for initial state"
    )
    kpi_clock_skew_s: float = Field(
        default=30.0, ge=0, description="margin between PLC source time and Redis write time for KPI windows"
    )
    ws_queue_max: int = Field(default=5_000, ge=10, description="entries buffered per WebSocket client")
    ws_block_ms: int = Field(default=500, ge=10)
    metrics_public: bool = True
    title: str = "sdf-twin API"
    auth_max_failures: int = Field(default=10, ge=1, description="unknown tokens per client before a lockout")
    auth_window_s: float = Field(default=60.0, gt=0, description="window in which failures are counted")
    auth_lockout_s: float = Field(default=60.0, gt=0, description="first lockout; doubles in a row")
    auth_max_lockout_s: float = Field(default=900.0, gt=0, description="longest lockout")

    def auth_limiter(self) -> AuthLimiter:
        """The failed-login limiter these settings describe (monotonic clock)."""
        return AuthLimiter(
            max_failures=self.auth_max_failures,
            window_s=self.auth_window_s,
            lockout_s=self.auth_lockout_s,
            max_lockout_s=self.auth_max_lockout_s,
        )


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = None


def paginate(items: list[T], limit: int, offset: int) -> Page[T]:
    """Slice a list into a page."""
    page = items[offset : offset + limit]
    nxt = offset + limit if offset + limit < len(items) else None
    return Page[T](items=page, total=len(items), limit=limit, offset=offset, next_offset=nxt)


@dataclass
class Counters:
    """In-process request counters for /metrics."""

    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def count(self, method: str, status: int) -> None:
        """Count one response."""
        key = (method, status)
        self.requests[key] = self.requests.get(key, 0) + 1


@dataclass
class ApiContext:
    """Everything the routers use, held on ``app.state.ctx``."""

    store: TwinStore
    settings: ApiSettings
    registry: TokenRegistry
    replan: ReplanFn | None = None
    dispatch: DispatchFn | None = None
    diff: DiffFn | None = None
    propose: ProposeFn | None = None
    clock: Callable[[], float] = time.time
    counters: Counters = field(default_factory=Counters)
    hub: Any = None  # twin.api.ws.ChangeHub, created by create_app
    limiter: AuthLimiter = field(default_factory=AuthLimiter)
    #: The history archive (:class:`twin.archive.reader.ArchiveReader`), if the API was given one.
    archive: Any = None

    def audit(self, who: Principal, action: str, detail: dict[str, Any], result: str = "ok") -> str:
        """Record a write (who, what, when, result) in the Redis audit stream."""
        return self.store.append_audit(who.name, action, {"role": who.role.label, **detail}, result)


async def get_ctx(request: Request) -> ApiContext:
    """The app's context."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def known_line(ctx: ApiContext, line: str | None) -> None:
    """Refuse (404) a line the plant does not have; ``None`` (the whole plant) always passes."""
    if line is not None and line not in ctx.store.plant().line_by_id():
        raise ApiError(404, f"unknown line {line!r}", field="line")


def known_equipment(ctx: ApiContext, equipment: str) -> Equipment:
    """The plant's equipment ``equipment``; refused (404) when there is none."""
    eq = ctx.store.plant().equipment_by_id().get(equipment)
    if eq is None:
        raise ApiError(404, f"unknown equipment {equipment!r}", field="equipment")
    return eq


bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")


def authenticate(ctx: ApiContext, token: str | None, need: Role, client: str = "unknown") -> Principal:
    """Check a token against a required role; raises ApiError 401/403 with the reason.

    ``client`` (the peer's address) is rate-limited: after too many unknown tokens it gets 429 with
    ``Retry-After`` until its lockout ends, whatever token it sends (:mod:`twin.api.lockout`).
    """
    if not token:
        raise ApiError(
            401,
            "missing API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    retry = ctx.limiter.retry_after(client)
    if retry is not None:
        raise ApiError(
            429,
            f"too many unknown API tokens from this client: try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    who = ctx.registry.authenticate(token) or issued_principal(ctx.store, token, ctx.clock())
    if who is None:
        lock = ctx.limiter.failed(client)
        if lock is not None:  # one line per lockout; never the token
            log.warning(
                "auth lockout: client %s sent %d unknown tokens within %.0f s; locked out for %.0f s "
                "(lockout %d in a row)",
                client,
                lock.failures,
                ctx.limiter.window_s,
                lock.seconds,
                lock.lockouts_in_a_row,
            )
        raise ApiError(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
    ctx.limiter.succeeded(client)
    if who.role < need:
        raise ApiError(403, f"this needs the {need.label} role; token {who.name!r} has {who.role.label}")
    return who


def require(need: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits tokens with at least role ``need`` (async: no worker-thread hop)."""

    async def dep(
        request: Request, cred: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> Principal:
        client = request.client.host if request.client else "unknown"
        return authenticate(request.app.state.ctx, cred.credentials if cred else None, need, client)

    dep.__name__ = f"require_{need.label}"
    return dep


viewer = require(Role.VIEWER)
scheduler = require(Role.SCHEDULER)
admin = require(Role.ADMIN)


async def page_params(
    limit: int = Query(100, ge=1, le=1000, description="items per page"),
    offset: int = Query(0, ge=0, le=10_000_000, description="items to skip"),
) -> tuple[int, int]:
    """Standard pagination query parameters."""
    return limit, offset

"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (Redis reachable, plant loaded), ``/metrics``.

These need no token (container healthchecks and Prometheus scrape them); set ``metrics_public=False`` in
:class:`~twin.api.deps.ApiSettings` to require a viewer token for ``/metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from twin.api.auth import Role
from twin.api.deps import ApiContext, authenticate, get_ctx
from twin.api.errors import ErrorResponse, error_response
from twin.api.streams import recent_rate
from twin.errors import TwinError
from twin.store import TwinStore
from twin.store.streamids import id_ms

log = logging.getLogger("twin.api")
router = APIRouter(tags=["ops"])

__all__ = ["REPLAN_TIME_KEYS", "Health", "Ready", "render_metrics", "router"]

#: Keys of a plan's ``meta`` that may carry how long the re-plan took (first found wins).
REPLAN_TIME_KEYS = ("replan_s", "solve_s", "wall_s", "duration_s", "elapsed_s")


class Health(BaseModel):
    """Liveness."""

    status: str


class Ready(BaseModel):
    """Readiness: Redis answers and a plant is loaded."""

    status: str
    plant: str
    equipment: int


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process is alive (no Redis access)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, summary="Readiness", responses={503: {"model": ErrorResponse}})
def readyz(ctx: ApiContext = Depends(get_ctx)) -> Any:
    """Redis reachable and the plant loaded; 503 with the reason otherwise."""
    try:
        ctx.store.ping()
        plant = ctx.store.plant()
    except TwinError as exc:
        return error_response(503, "not_ready", str(exc))
    return Ready(status="ready", plant=plant.id, equipment=len(plant.equipment()))


class _Metrics:
    """Prometheus text exposition, one family at a time."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            self.lines.append(f"{name}{{{lab}}} {value:.6g}" if lab else f"{name} {value:.6g}")

    def gauge(self, name: str, help_: str, value: float) -> None:
        self.add(name, "gauge", help_, [({}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _label(value: str) -> str:
    """A label value in the text exposition format (backslash, quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _guard(what: str, fn: Callable[[], object]) -> bool:
    """Run ``fn``; a :class:`TwinError` (Redis down) is logged and gives False."""
    try:
        fn()
        return True
    except TwinError as exc:
        log.warning("metrics: %s unavailable: %s", what, exc)
        return False


def render_metrics(ctx: ApiContext) -> str:
    """The metrics text; a part that cannot be read (Redis down) is left out, ``twin_redis_up`` says so."""
    m = _Metrics()
    now = ctx.clock()
    store = ctx.store
    up = _guard("redis", store.ping)
    _process_metrics(m, ctx, now, up)
    if not up:
        return m.text()
    parts: tuple[tuple[str, Callable[[], object]], ...] = (
        ("stream", lambda: _stream_metrics(m, store, now)),
        ("tags", lambda: _tag_metrics(m, store)),
        ("mapping problems", lambda: _mapping_metrics(m, store)),
        ("plans", lambda: _plan_metrics(m, store)),
    )
    for what, fn in parts:
        _guard(what, fn)
    return m.text()


def _process_metrics(m: _Metrics, ctx: ApiContext, now: float, up: bool) -> None:
    """What the API process knows without Redis: Redis up, uptime, HTTP responses, WebSocket clients."""
    m.gauge("twin_redis_up", "1 if Redis answers a PING", 1.0 if up else 0.0)
    m.gauge("twin_api_uptime_seconds", "seconds since the API started", now - ctx.counters.started)
    m.add(
        "twin_http_requests_total",
        "counter",
        "HTTP responses by method and status",
        [({"method": k[0], "code": str(k[1])}, float(v)) for k, v in sorted(ctx.counters.requests.items())],
    )
    hub = ctx.hub
    m.gauge("twin_ws_clients", "connected WebSocket feed clients", float(hub.client_count() if hub else 0))
    m.add(
        "twin_ws_entries_delivered_total",
        "counter",
        "change-stream entries sent to WebSocket clients",
        [({}, float(hub.delivered if hub else 0))],
    )


def _stream_metrics(m: _Metrics, store: TwinStore, now: float) -> None:
    """Ingest rates, stream length and cap, age of the newest entry, ingest lag, span of the stream."""
    info = store.change_stream_info()
    rate = recent_rate(store, now)
    m.gauge(
        "twin_ingest_changes_per_second",
        "tag changes written to the twin per second (last 60 s)",
        rate["changes_per_s"],
    )
    m.gauge(
        "twin_ingest_batches_per_second",
        "change-stream entries (publish batches) per second (last 60 s)",
        rate["entries_per_s"],
    )
    m.gauge("twin_stream_length", "entries in the change stream", float(info["length"]))
    m.gauge("twin_stream_maxlen", "cap of the change stream (MAXLEN ~)", float(info["maxlen"]))
    if info["last_id"]:
        last = store.change_range(info["last_id"], info["last_id"])
        newest = id_ms(info["last_id"]) / 1000.0
        m.gauge(
            "twin_stream_last_entry_age_seconds",
            "seconds since the newest change-stream entry",
            max(0.0, now - newest),
        )
        if last and last[0][2]:
            src = max(c.source_ts for c in last[0][2])
            m.gauge(
                "twin_ingest_lag_seconds",
                "newest entry: Redis write time minus the newest PLC source timestamp in it",
                max(0.0, newest - src),
            )
    if info["first_id"] and info["last_id"]:
        span = (id_ms(info["last_id"]) - id_ms(info["first_id"])) / 1000.0
        m.gauge("twin_history_span_seconds", "time covered by the change stream now", span)


def _tag_metrics(m: _Metrics, store: TwinStore) -> None:
    """Live tags by quality, and the stale ones."""
    counts = store.quality_counts()
    m.add(
        "twin_tags",
        "gauge",
        "live tags by quality (missing: no value yet)",
        [({"quality": q}, float(n)) for q, n in sorted(counts.items())],
    )
    m.gauge("twin_stale_tags", "live tags marked stale", float(counts.get("stale", 0)))


def _mapping_metrics(m: _Metrics, store: TwinStore) -> None:
    """Mapping problems the adapters report: per equipment and tag, and how many tags have any."""
    per_tag: dict[tuple[str, str], int] = {}
    for p in store.mapping_problems():
        key = (p["equipment"], p["tag"])
        per_tag[key] = per_tag.get(key, 0) + 1
    m.gauge("twin_mapping_problem_tags", "tags an adapter cannot mirror as bound", float(len(per_tag)))
    m.add(
        "twin_mapping_problems",
        "gauge",
        "mapping problems per tag (a node that does not exist, wrong type, unit, array, refused)",
        [({"equipment": eq, "tag": tag}, float(n)) for (eq, tag), n in sorted(per_tag.items())],
    )


def _plan_metrics(m: _Metrics, store: TwinStore) -> None:
    """The current plan's version, creation time and re-plan time; whether write-back is on."""
    v = store.current_plan_version()
    m.gauge("twin_plan_current_version", "current plan version (0: none)", float(v or 0))
    if v:
        plan = store.get_plan(v)
        m.gauge("twin_replan_last_timestamp_seconds", "creation time of the current plan", plan.created_at)
        for key in REPLAN_TIME_KEYS:
            val = plan.meta.get(key)
            if isinstance(val, int | float) and not isinstance(val, bool):
                m.gauge(
                    "twin_replan_last_duration_seconds",
                    f"re-plan time of the current plan (meta.{key})",
                    float(val),
                )
                break
    m.gauge(
        "twin_writeback_enabled",
        "1 if write-back to the PLCs is enabled",
        float(store.writeback_enabled()),
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, ctx: ApiContext = Depends(get_ctx)) -> PlainTextResponse:
    """Ingest rate, stream lag, stale tags, last re-plan time, WebSocket clients, HTTP responses."""
    if not ctx.settings.metrics_public:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        authenticate(ctx, token.strip() if scheme.lower() == "bearer" else None, Role.VIEWER)
    return PlainTextResponse(render_metrics(ctx), media_type="text/plain; version=0.0.4; charset=utf-8")

"""Administration: the write-back kill switch, the audit log, the configuration; and ``/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from twin.api.auth import Principal
from twin.api.deps import ApiContext, Page, admin, get_ctx, page_params, viewer

__all__ = ["Me", "WriteBack", "WriteBackIn", "router"]

router = APIRouter(prefix="/api/v1", tags=["admin"])


class WriteBack(BaseModel):
    """State of the write-back kill switch."""

    enabled: bool


class WriteBackIn(BaseModel):
    """Switch write-back to the PLCs on or off."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    reason: str = Field(default="", max_length=500, description="why (recorded in the audit log)")


class Me(BaseModel):
    """The caller."""

    name: str
    role: str


@router.get("/me", response_model=Me, summary="Who am I")
def me(who: Principal = Depends(viewer)) -> Me:
    """The token's name and role."""
    return Me(name=who.name, role=who.role.label)


@router.get("/admin/writeback", response_model=WriteBack, summary="Write-back kill switch state")
def get_writeback(ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(viewer)) -> WriteBack:
    """Whether plans may be written to the PLCs."""
    return WriteBack(enabled=ctx.store.writeback_enabled())


@router.put("/admin/writeback", response_model=WriteBack, summary="Flip the write-back kill switch")
def set_writeback(
    body: WriteBackIn, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(admin)
) -> WriteBack:
    """Enable or disable every write to the PLCs (admin; audited)."""
    ctx.store.set_writeback_enabled(body.enabled, actor=who.name)  # the store audits the switch itself
    if body.reason:
        ctx.audit(who, "writeback.reason", {"enabled": body.enabled, "reason": body.reason})
    return WriteBack(enabled=ctx.store.writeback_enabled())


@router.get("/admin/audit", response_model=Page[dict[str, Any]], summary="Audit log")
def audit_log(
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
    _who: Principal = Depends(admin),
) -> Page[dict[str, Any]]:
    """Who did what and when, newest first."""
    limit, offset = page
    entries = ctx.store.audit(count=offset + limit)[offset:]
    total = ctx.store.audit_length()
    nxt = offset + limit if offset + limit < total else None
    return Page[dict[str, Any]](items=entries, total=total, limit=limit, offset=offset, next_offset=nxt)


@router.get("/admin/config", response_model=dict[str, Any], summary="Plant definition and API settings")
def config(ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(admin)) -> dict[str, Any]:
    """The loaded plant definition, its marker and the API's settings (token counts per role, no hashes)."""
    settings = ctx.settings.model_dump(exclude={"tokens"})
    settings["tokens_per_role"] = ctx.registry.counts()
    return {
        "plant": ctx.store.plant().model_dump(mode="json", by_alias=True),
        "meta": ctx.store.meta(),
        "api": settings,
        "stream_maxlen": ctx.store.stream_maxlen,
        "wired": {"replan": ctx.replan is not None, "dispatch": ctx.dispatch is not None},
    }

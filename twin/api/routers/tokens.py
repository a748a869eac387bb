"""Issue, list and revoke API tokens at run time (admin; every change audited).

Issued tokens live in the store's token table (:mod:`twin.store.tokens`, SHA-256 only) next to the tokens
file, which stays read-only here: its entries are counted, not listed, and are changed by editing the file.
A new token is shown once, in the answer to its ``POST``; afterwards only its id (the first 12 hex digits of
its hash) names it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from twin.api.auth import Principal, Role, hash_token, new_token
from twin.api.deps import ApiContext, admin, get_ctx
from twin.api.errors import ApiError
from twin.errors import NotFoundError, ValidationError
from twin.store.tokens import TOKEN_ID_LEN, TokenTable

__all__ = ["IssuedToken", "NewToken", "TokenIn", "TokenList", "router"]

router = APIRouter(prefix="/api/v1/admin/tokens", tags=["admin"])


class TokenIn(BaseModel):
    """A token to issue."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="viewer, scheduler or admin")
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
        description="who the audit log records for this token",
    )
    expires_in_s: float | None = Field(
        default=None, gt=0, le=10 * 365 * 86400, description="lifetime in seconds (default: no expiry)"
    )


class IssuedToken(BaseModel):
    """An issued token's record (never the token or its full hash)."""

    id: str
    name: str
    role: str
    created_at: float
    created_by: str
    expires_at: float | None = None
    revoked_at: float | None = None
    revoked_by: str | None = None
    state: str = Field(description="active, expired or revoked")


class NewToken(IssuedToken):
    """The answer to issuing a token: its record and the token itself (shown this once)."""

    token: str


class TokenList(BaseModel):
    """Issued tokens (newest first) and how many the tokens file holds per role."""

    items: list[IssuedToken]
    configured: dict[str, int]


def _out(rec: dict[str, Any], now: float) -> IssuedToken:
    state = "active"
    if rec.get("revoked_at") is not None:
        state = "revoked"
    elif rec.get("expires_at") is not None and now >= rec["expires_at"]:
        state = "expired"
    return IssuedToken(**rec, state=state)


@router.get("", response_model=TokenList, summary="Issued API tokens")
def list_tokens(ctx: ApiContext = Depends(get_ctx), _who: Principal = Depends(admin)) -> TokenList:
    """Every issued token's record, newest first, and the tokens file's count per role."""
    now = ctx.clock()
    items = [_out(r, now) for r in reversed(TokenTable(ctx.store).list())]
    return TokenList(items=items, configured=ctx.registry.counts())


@router.post("", response_model=NewToken, status_code=201, summary="Issue an API token")
def create_token(
    body: TokenIn, ctx: ApiContext = Depends(get_ctx), who: Principal = Depends(admin)
) -> NewToken:
    """A new random token with a role and a name (audited; the token is in this answer only)."""
    detail: dict[str, Any] = {"name": body.name, "token_role": body.role, "expires_in_s": body.expires_in_s}
    try:
        role = Role.parse(body.role)
    except ValidationError as exc:
        ctx.audit(who, "token.create", detail, result=f"rejected: {exc}")
        raise ApiError(422, str(exc), field="role") from exc
    token, _line = new_token(role, body.name)
    expires = ctx.clock() + body.expires_in_s if body.expires_in_s else None
    try:
        rec = TokenTable(ctx.store).add(
            hash_token(token), role.label, body.name.strip(), created_by=who.name, expires_at=expires
        )
    except ValidationError as exc:
        ctx.audit(who, "token.create", detail, result=f"rejected: {exc}")
        raise ApiError(409, str(exc), code="conflict", field="name") from exc
    ctx.audit(who, "token.create", {**detail, "id": rec["id"]})
    return NewToken(**_out(rec, ctx.clock()).model_dump(), token=token)


@router.delete("/{token_id}", response_model=IssuedToken, summary="Revoke an issued API token")
def revoke_token(
    token_id: str = Path(..., pattern=f"^[0-9a-f]{{{TOKEN_ID_LEN}}}$", description="the token's id"),
    ctx: ApiContext = Depends(get_ctx),
    who: Principal = Depends(admin),
) -> IssuedToken:
    """Revoke a token: every request with it is refused from now on (401, saying it was revoked)."""
    try:
        rec = TokenTable(ctx.store).revoke(token_id, revoked_by=who.name)
    except NotFoundError:
        ctx.audit(who, "token.revoke", {"id": token_id}, result="rejected: no such token")
        raise
    except ValidationError as exc:
        ctx.audit(who, "token.revoke", {"id": token_id}, result=f"rejected: {exc}")
        raise ApiError(409, str(exc), code="conflict") from exc
    ctx.audit(who, "token.revoke", {"id": token_id, "name": rec["name"]})
    return _out(rec, ctx.clock())

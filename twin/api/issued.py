"""Tokens issued through the API (``/api/v1/admin/tokens``): who they belong to, and why one is refused.

Tokens from the tokens file are checked first (in memory, :class:`~twin.api.auth.TokenRegistry`); a token
not found there is looked up by its SHA-256 in the store's token table, so a token issued or revoked by one
API process counts in every process serving the plant, at once. A revoked or expired token is refused
(401) with that reason, so the console can log out with a clear message.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from twin.api.auth import Principal, Role
from twin.api.errors import ApiError
from twin.errors import NotFoundError
from twin.store import TwinStore
from twin.store.tokens import TokenTable

__all__ = ["issued_principal"]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def issued_principal(store: TwinStore, token: str, now: float) -> Principal | None:
    """The principal of an issued token; None if the store has no such token; ApiError 401 if it was
    revoked or has expired."""
    try:
        record = TokenTable(store).get(hashlib.sha256(token.encode()).hexdigest())
    except NotFoundError:  # no plant loaded yet: no issued tokens either
        return None
    if record is None:
        return None
    headers = {"WWW-Authenticate": "Bearer"}
    if record.get("revoked_at") is not None:
        raise ApiError(
            401,
            f"API token {record['name']!r} was revoked by {record.get('revoked_by')} at "
            f"{_when(record['revoked_at'])}: ask an admin for a new one",
            code="token_revoked",
            headers=headers,
        )
    expires = record.get("expires_at")
    if expires is not None and now >= expires:
        raise ApiError(
            401,
            f"API token {record['name']!r} expired at {_when(expires)}: ask an admin for a new one",
            code="token_expired",
            headers=headers,
        )
    return Principal(name=record["name"], role=Role.parse(record["role"]))

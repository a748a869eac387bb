"""API tokens issued at run time (``POST /api/v1/admin/tokens``): one hash of records keyed by SHA-256.

Only the SHA-256 of a token is stored, never the token. A record is JSON: ``id`` (the first 12 hex digits
of the hash, what an admin names to revoke it), ``name`` (the audit log's *who*), ``role``, ``created_at``,
``created_by``, ``expires_at`` (or null) and, once revoked, ``revoked_at`` / ``revoked_by``. Revoked records
stay, so a revoked token is refused with that reason rather than as unknown. The key carries the plant's
hash tag (``sdf:{P}:tokens``), like the audit log.
"""

from __future__ import annotations

import json
import time
from typing import Any

from twin.errors import NotFoundError, ValidationError
from twin.store.errors import translate_errors
from twin.store.sync import TwinStore

__all__ = ["TOKEN_ID_LEN", "TokenTable"]

#: Hex digits of a token's hash that identify it in lists and revocations.
TOKEN_ID_LEN = 12


class TokenTable:
    """The issued tokens of the plant a store serves."""

    def __init__(self, store: TwinStore) -> None:
        self.store = store

    @property
    def _key(self) -> str:
        return self.store.keys.tokens

    def add(
        self, sha256: str, role: str, name: str, *, created_by: str, expires_at: float | None = None
    ) -> dict[str, Any]:
        """Store a new token's record (refused if a token of that name is live or the hash is known)."""
        if any(r["name"] == name and r.get("revoked_at") is None for r in self.list()):
            raise ValidationError(f"a token named {name!r} exists already: revoke it or pick another name")
        record = {
            "id": sha256[:TOKEN_ID_LEN],
            "name": name,
            "role": role,
            "created_at": round(time.time(), 3),
            "created_by": created_by,
            "expires_at": expires_at,
            "revoked_at": None,
            "revoked_by": None,
        }
        with translate_errors("storing a token"):
            if not self.store.client.hsetnx(self._key, sha256, json.dumps(record)):
                raise ValidationError("that token is known already")
        return record

    def get(self, sha256: str) -> dict[str, Any] | None:
        """The record of a token hash, or None."""
        with translate_errors("looking up a token"):
            raw = self.store.client.hget(self._key, sha256)
        return json.loads(raw) if raw else None

    def list(self) -> list[dict[str, Any]]:
        """Every record (revoked ones too), oldest first."""
        with translate_errors("listing tokens"):
            raw = self.store.client.hgetall(self._key)
        return sorted((json.loads(v) for v in raw.values()), key=lambda r: (r["created_at"], r["id"]))

    def revoke(self, token_id: str, *, revoked_by: str) -> dict[str, Any]:
        """Mark the token with id ``token_id`` revoked (NotFoundError if none; revoking twice is refused)."""
        with translate_errors("revoking a token"):
            raw = self.store.client.hgetall(self._key)
            for digest, text in raw.items():
                rec = json.loads(text)
                if rec["id"] != token_id:
                    continue
                if rec.get("revoked_at") is not None:
                    raise ValidationError(f"token {token_id} ({rec['name']!r}) is revoked already")
                rec.update(revoked_at=round(time.time(), 3), revoked_by=revoked_by)
                self.store.client.hset(self._key, digest, json.dumps(rec))
                return dict(rec)
        raise NotFoundError(f"no issued token with id {token_id!r}")

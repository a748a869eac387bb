"""API tokens with roles (viewer < scheduler < admin), stored as SHA-256 hashes and compared in constant time.

A tokens file has one token a line: ``<sha256-hex> <role> [name]`` (``#`` starts a comment). The same lines,
separated by newlines or ``;``, can be given in an environment variable (the CLI reads it). The name is
who the audit log records for that token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import IntEnum

from pydantic import BaseModel, Field

from twin.errors import ValidationError

__all__ = [
    "TOKEN_PREFIX",
    "Principal",
    "Role",
    "TokenEntry",
    "TokenRegistry",
    "generate_tokens",
    "hash_token",
    "new_token",
    "parse_tokens",
]

TOKEN_PREFIX = "twn_"


class Role(IntEnum):
    """Roles, ordered: a higher role may do everything a lower one may."""

    VIEWER = 1
    SCHEDULER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role's name as written in token files."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its name (case-insensitive)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValidationError(
                f"unknown role {text!r} (use one of: {', '.join(r.label for r in cls)})"
            ) from None


class TokenEntry(BaseModel):
    """One accepted token: its hash, role and name (the actor recorded in the audit log)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: Role
    name: str


class Principal(BaseModel):
    """Who is calling."""

    name: str
    role: Role


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token (what is stored at rest)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(role: Role, name: str | None = None) -> tuple[str, str]:
    """A fresh random token and the tokens-file line that accepts it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, f"{hash_token(token)} {role.label} {name or role.label + '-' + hash_token(token)[:8]}"


def parse_tokens(text: str, source: str = "tokens") -> list[TokenEntry]:
    """Parse tokens-file text (lines or ``;``-separated entries); raises ValidationError naming the line."""
    out: list[TokenEntry] = []
    chunks = [c for line in text.splitlines() for c in line.split(";")]
    for n, raw in enumerate(chunks, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValidationError(f"{source}: entry {n}: expected '<sha256-hex> <role> [name]', got {line!r}")
        digest = parts[0].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValidationError(
                f"{source}: entry {n}: {parts[0][:12]!r}... is not a SHA-256 hex digest "
                "(store hashes, not tokens: `twin token new ROLE` prints the line)"
            )
        role = Role.parse(parts[1])
        name = " ".join(parts[2:]) or f"{role.label}-{digest[:8]}"
        out.append(TokenEntry(sha256=digest, role=role, name=name))
    return out


class TokenRegistry:
    """Looks tokens up by hash, comparing against every entry in constant time."""

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._entries = [(bytes.fromhex(e.sha256), e) for e in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal a token belongs to, or None."""
        digest = hashlib.sha256(token.encode()).digest()
        found: TokenEntry | None = None
        for h, entry in self._entries:  # no early exit: timing does not depend on which entry matched
            if hmac.compare_digest(h, digest):
                found = entry
        return Principal(name=found.name, role=found.role) if found else None

    def counts(self) -> dict[str, int]:
        """How many tokens per role (for the admin config view; never the hashes)."""
        out = {r.label: 0 for r in Role}
        for _h, e in self._entries:
            out[e.role.label] += 1
        return out


def generate_tokens(name_prefix: str = "demo") -> tuple[dict[str, str], list[TokenEntry]]:
    """One fresh token per role (``twin demo``, tests): ``{role: token}`` and the entries that accept them."""
    tokens: dict[str, str] = {}
    lines: list[str] = []
    for role in Role:
        token, line = new_token(role, f"{name_prefix}-{role.label}")
        tokens[role.label] = token
        lines.append(line)
    return tokens, parse_tokens("\n".join(lines))

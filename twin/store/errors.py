"""The one translation of redis-py errors into the twin's own, for the sync and the async store.

A lost or timed-out connection is :class:`~twin.errors.StoreUnavailableError` (callers buffer, retry or
answer 503). What retrying cannot fix is :class:`~twin.errors.StoreAccessError`, with what to change: a TLS
certificate that does not verify or name the host, a TLS/plain port mix-up, a missing client certificate,
a refused login, an ACL user without a permission. Any other Redis error is
:class:`~twin.errors.StoreError`. Each names what was being done.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    NoPermissionError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twin.errors import StoreAccessError, StoreError, StoreUnavailableError

__all__ = ["ACL_HINT", "TLS_OPTIONS_HINT", "translate", "translate_errors"]

#: Where TLS files are set: URL query parameters or the CLI's options.
TLS_OPTIONS_HINT = (
    "ssl_ca_certs= / ssl_certfile= / ssl_keyfile= in the rediss:// URL, "
    "or --redis-tls-ca / --redis-tls-cert / --redis-tls-key"
)
#: What to run to see the permissions each role needs.
ACL_HINT = "`twin redis acl --role ROLE` prints the ACL rules of each role"


#: Replies of a server that will answer again once a failover or a load has finished.
_TRANSIENT = (ClusterDownError, TryAgainError, MasterDownError, BusyLoadingError, ReadOnlyError)
_TRANSIENT_REPLIES = ("CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY", "The cluster is down")


def _transient(exc: BaseException) -> bool:
    """A reply that passes (also as a pipeline's "Command # N (...) of pipeline caused error: <reply>")."""
    text = str(exc)
    reply = text.split("caused error: ", 1)[1] if "caused error: " in text else text
    return isinstance(exc, _TRANSIENT) or reply.startswith(_TRANSIENT_REPLIES)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _tls_problem(exc: BaseException) -> str | None:
    """What to fix when a connection failed in the TLS layer (None: not a TLS problem we can name)."""
    for cause in _causes(exc):
        text = str(cause)
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or text
            if "mismatch" in reason.lower():
                return (
                    f"the Redis server's TLS certificate does not name the host in the URL ({reason}): "
                    "connect by a name or address its certificate lists, or re-issue it for this one"
                )
            return (
                f"the Redis server's TLS certificate does not verify ({reason}): give the CA that signed "
                f"it ({TLS_OPTIONS_HINT})"
            )
        if isinstance(cause, ssl.SSLError):
            low = text.lower()
            if "certificate required" in low or ("alert" in low and "certificate" in low):
                return f"the Redis server wants a client certificate ({text}): set one ({TLS_OPTIONS_HINT})"
            if "wrong version number" in low or "record layer failure" in low:
                return f"this port does not speak TLS ({text}): use redis:// for a plain port"
            if isinstance(cause, ssl.SSLEOFError):
                return (
                    f"the Redis server closed the TLS handshake ({text}): it may want a client certificate "
                    f"signed by its CA ({TLS_OPTIONS_HINT})"
                )
            return f"TLS handshake with Redis failed ({text}): check {TLS_OPTIONS_HINT}"
        if "handshake operation timed out" in text:
            return f"no TLS handshake answer ({text}): is this a plain port? use redis:// for it"
        if isinstance(cause, FileNotFoundError | IsADirectoryError | PermissionError) and cause.filename:
            return f"cannot read TLS file {cause.filename}: {cause.strerror} ({TLS_OPTIONS_HINT})"
    return None


def _detail(exc: BaseException) -> str:
    """The most telling message of ``exc`` and its causes (redis-py 8 wraps the socket error)."""
    for cause in _causes(exc):
        if cause is not exc and isinstance(cause, OSError) and str(cause):
            return f"{exc} ({cause})"
    return str(exc)


def _cluster_problem(exc: RedisClusterException, what: str) -> StoreError:
    text = str(exc)
    if "not enabled" in text.lower():
        return StoreAccessError(
            f"cannot use Redis as a cluster while {what}: {text}; use redis:// for a single server"
        )
    return StoreUnavailableError(
        f"Redis Cluster unreachable while {what}: {text}; check the host:port seeds in the "
        "redis+cluster:// URL (any one reachable node is enough)"
    )


def translate(exc: RedisError | RedisClusterException, what: str) -> StoreError:
    """The twin's error for a redis-py error raised while doing ``what``."""
    if isinstance(exc, RedisClusterException):
        return _cluster_problem(exc, what)
    if isinstance(exc, NoPermissionError):
        return StoreAccessError(
            f"Redis refused {what}: the Redis user lacks a permission ({exc}); connect as a user whose "
            f"role allows it, or grant it ({ACL_HINT})"
        )
    if isinstance(exc, AuthenticationError) or "WRONGPASS" in str(exc) or "NOAUTH" in str(exc):
        return StoreAccessError(
            f"Redis refused the login while {what} ({exc}): check the user and password in the URL "
            "(redis://USER:PASSWORD@HOST:PORT/DB)"
        )
    if _transient(exc):
        # A failover in progress (cluster down, a master gone, a promoted replica still read-only) or a
        # server loading its data: it passes, so callers buffer and retry as for a lost connection.
        return StoreUnavailableError(f"Redis unavailable while {what}: {exc}")
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        tls = _tls_problem(exc)
        if tls is not None:
            return StoreAccessError(f"cannot connect to Redis while {what}: {tls}")
        detail = _detail(exc)
        if "reset by peer" in detail:
            detail += "; a TLS port resets plain clients: use rediss:// if the server speaks TLS"
        return StoreUnavailableError(f"Redis unreachable while {what}: {detail}")
    return StoreError(f"Redis error while {what}: {exc}")


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Raise redis-py errors of the block as the twin's own (works around ``await`` too)."""
    try:
        yield
    except (RedisError, RedisClusterException) as exc:
        raise translate(exc, what) from exc

"""The one translation of redis-py errors into the twin's own, for the sync and the async store.

A lost or timed-out connection is :class:`~twin.errors.StoreUnavailableError` (callers buffer, retry or
answer 503); any other Redis error is :class:`~twin.errors.StoreError`. Either names what was being done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twin.errors import StoreError, StoreUnavailableError

__all__ = ["translate", "translate_errors"]


def translate(exc: RedisError, what: str) -> StoreError:
    """The twin's error for a redis-py error raised while doing ``what``."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return StoreUnavailableError(f"Redis unreachable while {what}: {exc}")
    return StoreError(f"Redis error while {what}: {exc}")


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Raise redis-py errors of the block as the twin's own (works around ``await`` too)."""
    try:
        yield
    except RedisError as exc:
        raise translate(exc, what) from exc

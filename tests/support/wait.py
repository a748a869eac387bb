"""The one wait helper of the tests: poll a real outcome until it holds, or fail saying what was awaited.

Tests wait on conditions, never on the clock: the timeout only bounds a hang, and the failure names what
the test waited for and the last value it saw (``timed out after 10s waiting for X; last value: Y``).
:func:`wait_until` polls from a plain thread; :func:`wait_until_async` from a coroutine (its ``fn`` may be
sync or return an awaitable), so the event loop keeps serving while the test waits.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")


def _timed_out(what: str, timeout: float, last: Any) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g}s waiting for {what}; last value: {last!r}")


def wait_until(what: str, fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Call ``fn`` every ``interval`` seconds until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, got)
        time.sleep(interval)


@overload
async def wait_until_async(
    what: str, fn: Callable[[], Awaitable[T]], timeout: float = ..., interval: float = ...
) -> T: ...


@overload
async def wait_until_async(
    what: str, fn: Callable[[], T], timeout: float = ..., interval: float = ...
) -> T: ...


async def wait_until_async(
    what: str, fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """:func:`wait_until` for a coroutine: sleeps with ``asyncio.sleep``; awaits ``fn()`` if awaitable."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = fn()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got
        if loop.time() > deadline:
            raise _timed_out(what, timeout, got)
        await asyncio.sleep(interval)

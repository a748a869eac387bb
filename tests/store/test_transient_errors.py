"""Replies of a Redis failing over or loading are "unavailable" (buffered, retried), not failures."""

from __future__ import annotations

import pytest
from redis.exceptions import ClusterDownError, ReadOnlyError, ResponseError, TryAgainError

from twin.errors import StoreUnavailableError
from twin.store.errors import translate


@pytest.mark.parametrize(
    "exc",
    [
        ClusterDownError("The cluster is down"),
        TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
        ReadOnlyError("You can't write against a read only replica."),
        ResponseError("Command # 6 (HSET k ...) of pipeline caused error: The cluster is down"),
        ResponseError("LOADING Redis is loading the dataset in memory"),
    ],
)
def test_failover_and_loading_replies_are_unavailable(exc: Exception) -> None:
    err = translate(exc, "writing live state")  # type: ignore[arg-type]
    assert isinstance(err, StoreUnavailableError) and "writing live state" in str(err)


def test_other_replies_stay_errors() -> None:
    err = translate(ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), "x")
    assert not isinstance(err, StoreUnavailableError)

"""The store suite runs against one redis-server AND a 3-master Redis Cluster (same tests, same asserts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.cluster_util import LocalCluster
from twin.embedded import EmbeddedRedis

BACKENDS = ["single", "cluster"]


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One real 3-master Redis Cluster on loopback for the session."""
    with LocalCluster(masters=3) as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which Redis the test runs on."""
    return str(request.param)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    """A clean Redis (flushed before each test): ``redis://`` single node or ``redis+cluster://``."""
    if backend == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        yield cluster.url
        return
    server: EmbeddedRedis = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.close()
    yield server.url

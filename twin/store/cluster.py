"""Redis Cluster connection URLs: ``redis+cluster://host:port[,host:port...]`` (or ``rediss+cluster://``).

The store itself is the same for one node and a cluster: every key carries a hash tag, so what must
change atomically (a plant's graph, plans, demand, audit, change feed: ``sdf:{plant}:...``) lives in one
slot, and a line's live hashes (``sdf:{plant:line}:live:...``) spread lines over the masters. Pipelines
that touch several slots are non-transactional and the cluster client splits them per node; MULTI and
WATCH are only ever used on keys of one slot. See ``docs/reliability.md`` ("Redis Cluster").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio.cluster as acluster
import redis.cluster as scluster

from twin.errors import StoreError

__all__ = ["CLUSTER_SCHEMES", "async_cluster_client", "cluster_client", "is_cluster_url", "split_cluster_url"]

#: URL schemes that select a cluster client.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    """True for ``redis+cluster://`` and ``rediss+cluster://`` URLs."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def split_cluster_url(url: str) -> tuple[str, list[tuple[str, int]]]:
    """The plain ``redis[s]://`` URL of the first seed node, and every seed ``(host, port)``.

    ``redis+cluster://user:pw@h1:7000,h2:7001/0?x=y`` -> ``("redis://user:pw@h1:7000/0?x=y",
    [("h1", 7000), ("h2", 7001)])``. Raises :class:`StoreError` naming the URL if it is malformed.
    """
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise StoreError(f"not a Redis Cluster URL (want redis+cluster://host:port): {url!r}")
    auth, _, hosts = parts.netloc.rpartition("@")
    seeds: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise StoreError(f"bad seed node {item!r} in Redis Cluster URL: use host:port[,host:port...]")
        seeds.append((host.strip("[]"), int(port)))
    first = f"{auth}@{hosts.split(',')[0]}" if auth else hosts.split(",")[0]
    return urlunsplit((scheme, first, parts.path, parts.query, parts.fragment)), seeds


def cluster_client(url: str, **kw: Any) -> scluster.RedisCluster:
    """A synchronous ``RedisCluster`` client (decoded strings) for a cluster URL."""
    plain, seeds = split_cluster_url(url)
    # the first seed comes from the URL itself
    nodes = [scluster.ClusterNode(h, p) for h, p in seeds[1:]]  # type: ignore[no-untyped-call]
    return scluster.RedisCluster.from_url(plain, startup_nodes=nodes, decode_responses=True, **kw)


def async_cluster_client(url: str, **kw: Any) -> acluster.RedisCluster:
    """An asyncio ``RedisCluster`` client (decoded strings) for a cluster URL."""
    plain, seeds = split_cluster_url(url)
    nodes = [acluster.ClusterNode(h, p) for h, p in seeds[1:]]
    return acluster.RedisCluster.from_url(plain, startup_nodes=nodes, decode_responses=True, **kw)

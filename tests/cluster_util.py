"""A real Redis Cluster on loopback for tests: :class:`benchmarks.localcluster.LocalCluster` (shared with
``twin bench failover|scale``)."""

from __future__ import annotations

from benchmarks.localcluster import LocalCluster, cluster_port, redis_cli_binary

__all__ = ["LocalCluster", "cluster_port", "redis_cli_binary"]

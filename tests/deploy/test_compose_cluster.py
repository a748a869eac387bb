"""docker/compose.cluster.yaml (3 Redis Cluster masters + 3 replicas) checked without a Docker engine: the
nodes, the one-shot cluster creation, the cluster URL every twin service uses, healthchecks, dependencies,
and every command parsed by the real typer app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.compose_util import COMPOSE_CLUSTER, check_dependencies, compose, local_args, twin_services
from tests.deploy.test_docker_files import parse_twin
from twin.config import load_plant
from twin.store.cluster import split_cluster_url, wait_replicas


def _doc() -> dict[str, Any]:
    return compose(COMPOSE_CLUSTER)


def _nodes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in doc["services"].items() if n.startswith("redis-")}


def test_six_official_redis_nodes_in_cluster_mode_with_aof() -> None:
    doc = _doc()
    nodes = _nodes(doc)
    assert len(nodes) == 6
    for name, svc in nodes.items():
        assert svc["image"].split(":")[0] == "redis" and "build" not in svc, name
        cmd = svc["command"]
        assert cmd[0] == "redis-server"
        flags = dict(zip(cmd[1::2], cmd[2::2], strict=False))
        assert flags["--cluster-enabled"] == "yes" and flags["--appendfsync"] == "always", name
        assert int(flags["--cluster-node-timeout"]) <= 15000, name
        assert svc["volumes"] == [f"{name}:/data"] and name in doc["volumes"], name  # its own nodes.conf


def test_cluster_init_joins_every_node_with_one_replica_each() -> None:
    doc = _doc()
    init = doc["services"]["cluster-init"]
    script = init["command"][-1]
    create = script.split("--cluster create", 1)[1].split()
    members = [w for w in create if ":" in w]
    assert sorted(m.split(":")[0] for m in members) == sorted(_nodes(doc))
    assert create[create.index("--cluster-replicas") + 1] == "1" and "--cluster-yes" in create
    assert "cluster_state:ok ||" in script  # idempotent: a restart does not re-create the cluster
    assert set(init["depends_on"]) == set(_nodes(doc))
    assert all(d["condition"] == "service_healthy" for d in init["depends_on"].values())
    assert (
        doc["services"]["init"]["depends_on"]["cluster-init"]["condition"] == "service_completed_successfully"
    )


def test_every_twin_service_uses_the_whole_cluster_with_replicated_writes() -> None:
    doc = _doc()
    nodes = set(_nodes(doc))
    for name, svc in twin_services(doc).items():
        url = svc["environment"]["REDIS_URL"]
        _plain, seeds = split_cluster_url(url)
        assert {h for h, _p in seeds} == nodes and {p for _h, p in seeds} == {6379}, name
        assert wait_replicas(url) == 1, name


@pytest.mark.parametrize("name", ["init", "simulator", "adapter-1", "adapter-2", "replanner", "api"])
def test_every_command_is_a_real_twin_command(name: str) -> None:
    svc = _doc()["services"][name]
    ctx = parse_twin(local_args(svc["command"]))
    cfg = ctx.params.get("config")
    if cfg is not None:
        load_plant(cfg)
    hc = svc.get("healthcheck", {}).get("test", [])
    if hc[1:2] == ["twin"]:
        parse_twin(hc[2:])


def test_healthchecks_and_dependencies() -> None:
    services = _doc()["services"]
    for name, svc in services.items():
        hc: dict[str, Any] = svc.get("healthcheck", {})
        if name in ("init", "cluster-init"):
            assert hc.get("disable") is True and svc["restart"] == "no", name
            continue
        assert hc["test"][0] in ("CMD", "CMD-SHELL") and {"interval", "timeout", "retries"} <= set(hc), name
        if hc["test"][1:3] == ["python", "-c"]:
            compile(hc["test"][3], f"<{name} healthcheck>", "exec")
    check_dependencies(services)

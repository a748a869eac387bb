"""The fault rig: a durable redis-server, one PLC server process per line, an adapter process."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.faults.harness import TWIN, PlcServer, Proc, fault_plant, free_ports
from tests.support.wait import wait_until
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.store import TwinStore

#: The adapter's publishing interval and silence deadline (``--publish-interval-ms``, ``--stale-after``).
PUBLISH_INTERVAL_MS = 50
STALE_AFTER_S = 1.5


@dataclass
class Rig:
    """Everything a fault test drives; :meth:`close` ends every process it started."""

    workdir: Path
    plant_file: Path
    redis: EmbeddedRedis
    store: TwinStore
    plcs: dict[str, PlcServer]
    adapter: Proc | None = None
    extra: list[Proc] = field(default_factory=list)

    def start_adapter(self, buffer: int = 100_000, shard: str | None = None) -> Proc:
        """A real ``twin adapt`` process (publishing every 50 ms, stale after 1.5 s of silence)."""
        n = sum(1 for _ in self.workdir.glob("adapter*.out"))
        args = [TWIN, "--redis-url", self.redis.url, "adapt", "--config", str(self.plant_file),
                "--publish-interval-ms", str(PUBLISH_INTERVAL_MS), "--stale-after", str(STALE_AFTER_S),
                "--outage-buffer", str(buffer)]  # fmt: skip
        if shard:
            args += ["--shard", shard]
        self.adapter = Proc(args, self.workdir / f"adapter{n}.out").start()
        self.extra.append(self.adapter)
        return self.adapter

    def adapter_connects(self) -> int:
        """Sessions the adapter opened so far (it logs one line per (re)connect)."""
        return self.adapter.output().count(": mirroring") if self.adapter else 0

    def wait_sessions(self, n: int, what: str, timeout: float = 30) -> int:
        """Until the adapter has logged ``n`` sessions (``: mirroring``: subscribed *and* re-synced); returns
        the count. Good values alone do not mean that: publish responses write them while the session is
        still being set up (before the re-sync read), so a kill right then ends a session that never logs.
        Fails loudly with the adapter log."""
        try:
            return wait_until(what, lambda: (c := self.adapter_connects()) >= n and c, timeout)
        except AssertionError as exc:
            logged = self.adapter_connects()
            raise AssertionError(f"{exc} (logged {logged})\nadapter output:\n{self.adapter_tail()}") from None

    def adapter_tail(self, chars: int = 4000) -> str:
        """The end of the adapter's log, for failure messages."""
        return self.adapter.output()[-chars:] if self.adapter else ""

    def plc_sockets(self) -> set[int]:
        """Local ports of the adapter's TCP connections to the PLC servers (sessions, connect attempts)."""
        ports = {p.port for p in self.plcs.values()}
        try:
            conns = psutil.Process(self.adapter.pid).net_connections(kind="tcp") if self.adapter else []
        except psutil.NoSuchProcess:
            return set()
        return {c.laddr.port for c in conns if c.raddr and c.raddr.port in ports}

    def buffer_report(self) -> dict[str, Any]:
        """The outage-buffer counters ``twin adapt`` logs when it stops."""
        for line in reversed((self.adapter.output() if self.adapter else "").splitlines()):
            if "outage buffer {" in line:
                return dict(json.loads(line[line.index("{") :]))
        return {}

    def rows(self) -> dict[str, dict[str, Any]]:
        """``twin status`` rows by equipment id."""
        return {r["id"]: r for r in self.store.status()}

    def all_quality(self, quality: str, newer_than: dict[str, int] | None = None) -> bool:
        """Every station has ``quality`` (and, if given, a part_count above ``newer_than``)."""
        rows = self.rows()
        return all(
            r["quality"] == quality and (newer_than is None or (r.get("part_count") or 0) > newer_than[i])
            for i, r in rows.items()
        )

    def counts(self) -> dict[str, int]:
        """The live part_count per station."""
        return {i: int(r.get("part_count") or 0) for i, r in self.rows().items()}

    def wait_good(self, timeout: float = 30, newer_than: dict[str, int] | None = None) -> None:
        """Until every station is good (and newer than ``newer_than``); fails loudly with the adapter log."""
        try:
            wait_until("all stations good", lambda: self.all_quality("good", newer_than), timeout)
        except AssertionError:
            out = self.adapter.output()[-3000:] if self.adapter else ""
            raise AssertionError(f"stations not good: {self.rows()}\nadapter output:\n{out}") from None

    def wait_stale(self, what: str, timeout: float = 30) -> None:
        """Until every station is marked stale; fails loudly with the live rows and the adapter log."""
        try:
            wait_until(what, lambda: self.all_quality("stale"), timeout)
        except AssertionError:
            out = self.adapter.output()[-3000:] if self.adapter else ""
            raise AssertionError(f"{what}: not stale: {self.rows()}\nadapter output:\n{out}") from None

    def close(self) -> None:
        for p in [self.adapter, *self.plcs.values(), *self.extra]:
            if p is not None:
                p.close()
        self.store.client.close()
        self.redis.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """One line of three stations on a PLC server process, a durable Redis with the plant loaded."""
    (port,) = free_ports(1)
    plant_file = fault_plant(tmp_path / "plant.yaml", {"L1": port})
    redis = EmbeddedRedis(workdir=tmp_path / "redis", persist=True, extra_args=["--appendfsync", "always"])
    redis.start()
    store = TwinStore.from_url(redis.url)
    store.load_plant(load_plant(plant_file))
    r = Rig(tmp_path, plant_file, redis, store, {"L1": PlcServer(plant_file, "L1", port, tmp_path)})
    try:
        r.plcs["L1"].start_ready()
        yield r
    finally:
        r.close()
        sys.stdout.flush()

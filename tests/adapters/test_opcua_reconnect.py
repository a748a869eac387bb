"""Recovery against a real server in another process: SIGKILL + restart (5x in a row) and SIGSTOP stalls."""

from __future__ import annotations

import asyncio
import signal
from functools import partial

import pytest

from adapters.opcua.session import AdapterOptions
from benchmarks.tagserver import ServerProcess
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.conftest import MINI_PLANT
from tests.helpers import free_port, url_of
from tests.support.wait import wait_until_async
from twin.model import Plant
from twin.store import TwinStore

FAST = AdapterOptions(
    publish_interval_ms=50,
    keepalive_s=0.3,
    stale_after_s=1.5,
    request_timeout_s=2.0,
    backoff_initial_s=0.1,
    backoff_max_s=0.5,
)
L1 = ["L1-WELD", "L1-BUF", "L1-PAINT", "L1-ASSY"]


def qualities(store: TwinStore) -> set[str]:
    return {q for eq in L1 for _v, q, _ts in store.read_tags(eq).values()}


def all_fresh(store: TwinStore, generation: int) -> bool:
    """Every tag good, and the counters carry this server generation's values (not the old ones)."""
    if qualities(store) != {"good"}:
        return False
    return all(store.read_tags(eq).get("state", (None,))[0] is not None for eq in L1) and all(
        int(store.read_tags(eq)["part_count"][0]) >= generation for eq in ("L1-WELD", "L1-PAINT", "L1-ASSY")
    )


@pytest.mark.slow  # ~30-50 s on a shared machine; the SIGSTOP test below covers recovery in quick runs
@pytest.mark.timeout(170)
async def test_five_kill_restart_cycles_recover(store: TwinStore, mini_plant: Plant) -> None:
    port = free_port()
    with ServerProcess(port, MINI_PLANT, line="L1") as proc:
        proc.start(start_value=1000)
        adapter, task, astore = await start_adapter(
            mini_plant, proc.url, url_of(store), FAST, {"L1": proc.url}
        )
        try:
            await wait_until_async("every tag from generation 1000", lambda: all_fresh(store, 1000))
            for cycle in range(1, 6):
                proc.kill(signal.SIGKILL)
                await wait_until_async(f"stale marks (cycle {cycle})", lambda: qualities(store) == {"stale"})
                # Stale marks keep the last value.
                assert int(store.read_tags("L1-WELD")["part_count"][0]) >= 1000 * cycle
                gen = 1000 * (cycle + 1)
                await asyncio.to_thread(proc.start, gen)
                await wait_until_async(f"every tag from generation {gen}", partial(all_fresh, store, gen))
            assert adapter.status.disconnects == 5
            assert adapter.status.connects == 6
            assert adapter.sink.counters.stale_marks == 5 * adapter.sink.tag_count
            assert not task.done()
        finally:
            await stop_adapter(adapter, task, astore)


@pytest.mark.timeout(120)
async def test_silent_stall_is_detected_and_recovered(store: TwinStore, mini_plant: Plant) -> None:
    """SIGSTOP: the socket stays open but nothing answers; only the publish watchdog can notice."""
    with ServerProcess(free_port(), MINI_PLANT, line="L1") as proc:
        proc.start(start_value=50)
        adapter, task, astore = await start_adapter(
            mini_plant, proc.url, url_of(store), FAST, {"L1": proc.url}
        )
        try:
            await wait_until_async("every tag from generation 50", lambda: all_fresh(store, 50))
            proc.kill(signal.SIGSTOP)
            await wait_until_async("stale marks after the stall", lambda: qualities(store) == {"stale"})
            proc.kill(signal.SIGCONT)
            await wait_until_async("good again after SIGCONT", lambda: qualities(store) == {"good"})
            assert adapter.status.disconnects >= 1
            assert "stalled" in (adapter.status.last_error or "stalled") or adapter.status.connected
        finally:
            await stop_adapter(adapter, task, astore)

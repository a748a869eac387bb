"""PLC server faults with real processes: kill -9 / restart cycles, and a silent stall (SIGSTOP)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.faults.conftest import PUBLISH_INTERVAL_MS, STALE_AFTER_S, Rig
from tests.faults.harness import PERIOD_S, ForkedPlc, PlcServer, PlcZygote, record, summary
from tests.support.wait import wait_until

#: Memory the adapter may gain over 20 restart cycles (after a warm-up cycle): a leak of one client,
#: subscription or task set per cycle would exceed it; allocator noise does not.
RSS_GROWTH_BOUND_MB = 25.0
CYCLES = int(os.environ.get("SDF_FAULT_CYCLES", "20"))


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_twenty_kill9_restart_cycles_recover(rig: Rig) -> None:
    adapter = rig.start_adapter()
    rig.wait_good()
    plc: PlcServer | ForkedPlc = rig.plcs["L1"]
    stale_s: list[float] = []
    recover_s: list[float] = []
    rss: list[float] = []
    sessions: list[int] = []  # sessions logged after each cycle
    # Each restart is a new server process, forked from a pre-imported parent and started as soon as the
    # previous one serves (it binds the port only when told), so that the recovery time measures the
    # adapter's reconnect, not Python's start-up.
    zygote = PlcZygote(rig.plant_file, "L1", plc.port, rig.workdir).start_zygote()
    rig.extra.append(zygote)
    spare = zygote.fork()
    for cycle in range(CYCLES):
        before = rig.counts()
        plc.kill9()
        t_kill = time.monotonic()
        rig.wait_stale(f"stale marks (cycle {cycle})")
        stale_s.append(time.monotonic() - t_kill)
        kept = rig.counts()
        assert all(kept[k] >= before[k] > 0 for k in before), (before, kept)  # stale keeps the last value
        before = kept
        plc = spare.go()
        t_up = time.monotonic()
        spare = zygote.fork()
        rig.wait_good(newer_than=before)  # newer values than before the kill, marks cleared
        recover_s.append(time.monotonic() - t_up)
        # ... and the session to this process is complete (re-synced, logged) before the next kill: the
        # first good values come from publish responses while the session is still being set up, and a kill
        # then ends it before it logs (correctly marked stale; but this process then never had a session).
        sessions.append(rig.wait_sessions(cycle + 2, f"the session of cycle {cycle} logged"))
        assert adapter.alive(), f"adapter died in cycle {cycle}: {rig.adapter_tail()}"
        rss.append(adapter.rss_mb())
    connects = rig.adapter_connects()
    growth = rss[-1] - rss[0]
    record(
        "plc_kill_cycles",
        {
            "cycles": CYCLES,
            "stale_after_kill": summary(stale_s),
            "recovery_after_restart": summary(recover_s),
            "rss_mb_after_cycle1": round(rss[0], 1),
            "rss_mb_after_last": round(rss[-1], 1),
            "rss_growth_mb": round(growth, 1),
        },
    )
    # one session per server process: no duplicate or leaked session
    assert connects == CYCLES + 1, f"{connects} sessions, per cycle {sessions}:\n{rig.adapter_tail()}"
    assert "Task exception was never retrieved" not in adapter.output(), rig.adapter_tail()
    assert growth < RSS_GROWTH_BOUND_MB, f"adapter RSS grew {growth:.1f} MB over {CYCLES} cycles: {rss}"
    assert adapter.terminate() == 0
    plc.close()
    spare.close()


@pytest.mark.timeout(120)
def test_stalled_server_is_detected_and_recovered(rig: Rig) -> None:
    """SIGSTOP: the TCP connection stays open but nothing answers; the adapter must notice by itself."""
    adapter = rig.start_adapter()
    rig.wait_good()
    plc = rig.plcs["L1"]
    before = rig.counts()
    session = rig.plc_sockets()
    assert session, "no session to the PLC"
    plc.signal(signal.SIGSTOP)
    t_stop = time.monotonic()
    try:
        rig.wait_stale("stale marks after a stall")
        detected = time.monotonic() - t_stop
        # a reconnect attempt against the frozen server (a new connection) does not bring the adapter down
        wait_until("a reconnect attempt", lambda: rig.plc_sockets() - session or not adapter.alive(), 30)
        assert adapter.alive()
    finally:
        plc.signal(signal.SIGCONT)
    t_cont = time.monotonic()
    rig.wait_good(newer_than=before)
    record(
        "plc_stall",
        {
            "stale_detected_after_s": round(detected, 3),
            "recovered_after_sigcont_s": round(time.monotonic() - t_cont, 3),
        },
    )
    # Only the silence deadline can notice a stall (the socket stays open): not before --stale-after,
    # counted from the last publish response (at most a PLC period and a publish cycle before the SIGSTOP).
    assert detected >= STALE_AFTER_S - PERIOD_S - PUBLISH_INTERVAL_MS / 1000, detected
    assert adapter.alive()
    assert adapter.terminate() == 0

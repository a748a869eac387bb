"""Redis faults with real processes: Redis killed and restarted mid-ingest; SIGTERM and restart of the
adapter. The PLC server logs every value it writes; the change stream must contain each of them.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from tests.faults.conftest import Rig
from tests.faults.harness import PlcServer, record
from tests.support.wait import wait_until


def stream_values(rig: Rig) -> dict[tuple[str, str], set[str]]:
    """Every value the change stream holds, per ``(equipment, tag)`` (as the server logs them)."""
    out: dict[tuple[str, str], set[str]] = {}
    for _id, _src, changes in rig.store.change_range():
        for c in changes:
            if c.quality == "good":
                out.setdefault((c.equipment, c.tag), set()).add(_as_logged(c.value))
    return out


def _as_logged(v: Any) -> str:
    return str(v)


def live_tick(rig: Rig, plc: PlcServer, after: float, what: str) -> float:
    """The first tick the PLC logs after ``after``, once every value of it is in the change stream."""
    tick = wait_until(f"a PLC tick after {what}", lambda: plc.ticks_after(after)[:1], 10)[0]
    wait_until(f"the PLC tick after {what} in Redis", lambda: not missing_values(rig, plc, tick, tick), 10)
    return tick


def ticks_logged(plc: PlcServer, after: float, n: int, what: str) -> list[float]:
    """Waits until the PLC has logged ``n`` ticks after ``after``; their times."""

    def ticks() -> list[float]:
        t = plc.ticks_after(after)
        return t if len(t) >= n else []

    return wait_until(f"{n} PLC ticks {what}", ticks, 20)


def missing_values(rig: Rig, plc: PlcServer, since: float, until: float) -> list[tuple[float, str, str, str]]:
    """Values the server logged in ``[since, until]`` that never reached the change stream."""
    seen = stream_values(rig)
    return [
        (t, eq, tag, v)
        for t, eq, tag, v in plc.logged()
        if since <= t <= until and v not in seen.get((eq, tag), set())
    ]


#: PLC ticks (0.3 s apart) that the adapter must buffer while Redis is down.
OUTAGE_TICKS = 10


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_redis_killed_mid_ingest_nothing_lost_within_the_bound(rig: Rig) -> None:
    adapter = rig.start_adapter(buffer=10_000)
    plc = rig.plcs["L1"]
    rig.wait_good()
    t_first = live_tick(rig, plc, time.time(), "all stations are good")  # the subscription delivers
    rig.redis.kill()
    t_kill = time.time()
    wait_until("the adapter to notice the outage", lambda: "Redis unreachable" in adapter.output(), 20)
    ticks_logged(plc, t_kill, OUTAGE_TICKS, "during the outage")  # the PLC keeps writing; the adapter buffers
    assert adapter.alive()
    rig.redis.start()
    t_back = time.time()
    wait_until("the buffer replayed", lambda: "Redis back after" in adapter.output(), 30)
    t_end = live_tick(rig, plc, t_back, "Redis is back")  # live again after the replay
    rig.wait_good()
    assert adapter.terminate() == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    lost = missing_values(rig, plc, t_first, t_end)
    outage = [x for x in plc.logged() if t_kill <= x[0] <= t_back]
    record(
        "redis_outage",
        {
            "outage_s": round(t_back - t_kill, 2),
            "buffer_bound_changes": 10_000,
            "peak_buffered_changes": b.get("peak_pending_changes"),
            "replayed_changes": b.get("replayed_changes"),
            "replayed_batches": b.get("replayed_batches"),
            "values_logged_during_outage": len(outage),
            "values_checked": len([x for x in plc.logged() if t_first <= x[0] <= t_end]),
            "lost": len(lost),
            "refused_changes": b.get("refused_changes"),
        },
    )
    assert outage, "the PLC wrote nothing during the outage: the test proved nothing"
    assert b["outages"] >= 1 and b["replayed_changes"] > 0 and b["refused_changes"] == 0, b
    assert not lost, f"{len(lost)} logged values never reached Redis, e.g. {lost[:5]}"


@pytest.mark.timeout(150)
def test_sigterm_flushes_pending_changes_and_restart_resumes(rig: Rig) -> None:
    """Redis is down when SIGTERM arrives: ``twin adapt`` keeps its buffer, flushes it once Redis is back
    (within its bounded shutdown wait), closes its sessions and exits 0; a new process resumes cleanly."""
    adapter = rig.start_adapter()
    plc = rig.plcs["L1"]
    rig.wait_good()
    t_first = live_tick(rig, plc, time.time(), "all stations are good")
    rig.redis.kill()
    wait_until("the adapter to notice the outage", lambda: "Redis unreachable" in adapter.output(), 20)
    # Changes pile up in the outage buffer. The newest ticks may still be on their way when SIGTERM is
    # sent; the oldest of these four had three PLC periods to arrive, so it must be in Redis in the end.
    t_end = ticks_logged(plc, time.time(), 4, "buffered")[0]
    assert rig.plc_sockets(), "no session to the PLC"
    adapter.signal(signal.SIGTERM)
    wait_until("the adapter to close its session", lambda: not rig.plc_sockets() or not adapter.alive(), 20)
    assert adapter.alive(), adapter.output()[-2000:]  # still waiting for Redis to flush its buffer
    rig.redis.start()
    assert adapter.proc is not None
    assert adapter.proc.wait(30) == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    assert b["buffered_changes"] > 0 and b["pending_changes"] == 0, b  # it did buffer, and flushed all
    # Everything logged up to shortly before SIGTERM is in Redis (the adapter stopped after that).
    assert not missing_values(rig, plc, t_first, t_end)
    # Restart: a new adapter process picks up cleanly from the live state.
    before = rig.counts()
    again = rig.start_adapter()
    rig.wait_good(newer_than=before)
    assert again.alive()
    assert again.terminate() == 0
    assert "Task exception was never retrieved" not in again.output()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_outage_past_the_bound_coalesces_counted_and_recovers(rig: Rig) -> None:
    """A buffer of 20 changes overflows within a second: batches past the bound are refused, the sink
    keeps the latest value per tag (counted as coalesced), and after the outage every tag is current."""
    adapter = rig.start_adapter(buffer=20)
    plc = rig.plcs["L1"]
    rig.wait_good()
    rig.redis.kill()
    wait_until("the outage buffer full", lambda: "outage buffer is full" in adapter.output(), 30)
    ticks_logged(plc, time.time(), 2, "after the buffer filled")  # newer values overwrite pending ones
    rig.redis.start()
    before = rig.counts()
    rig.wait_good(newer_than=before)  # live again, and newer than what Redis had
    logged: dict[str, int] = {}
    for _t, eq, tag, v in plc.logged():
        if tag == "part_count":
            logged[eq] = int(v)
    # every station catches up with the newest value the PLC had written by now
    wait_until("current values", lambda: all(rig.counts()[eq] >= n for eq, n in logged.items()), 20)
    assert adapter.alive()
    assert adapter.terminate() == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    assert b["refused_changes"] > 0 and b["peak_pending_changes"] <= 20, b
    out = adapter.output()
    totals = json.loads(out[out.rindex("stopped; ingest ") + len("stopped; ingest ") :].splitlines()[0])
    assert totals["coalesced"] > 0  # what could not be kept was counted, not dropped silently
    figures = {k: b[k] for k in ("refused_changes", "replayed_changes")}
    record("redis_outage_past_bound", {"bound": 20, **figures, "coalesced": totals["coalesced"]})

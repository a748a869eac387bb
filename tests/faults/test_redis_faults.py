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
from tests.faults.harness import PlcServer, record, wait_for


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


def missing_values(rig: Rig, plc: PlcServer, since: float, until: float) -> list[tuple[float, str, str, str]]:
    """Values the server logged in ``[since, until]`` that never reached the change stream."""
    seen = stream_values(rig)
    return [
        (t, eq, tag, v)
        for t, eq, tag, v in plc.logged()
        if since <= t <= until and v not in seen.get((eq, tag), set())
    ]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_redis_killed_mid_ingest_nothing_lost_within_the_bound(rig: Rig) -> None:
    adapter = rig.start_adapter(buffer=10_000)
    rig.wait_good()
    t_good = time.time()
    time.sleep(1.0)
    rig.redis.kill()
    t_kill = time.time()
    time.sleep(3.0)  # the PLC keeps writing; the adapter must buffer
    assert adapter.alive()
    rig.redis.start()
    t_back = time.time()
    time.sleep(2.0)  # replay, then a few more publish cycles after the outage
    t_end = time.time() - 0.8  # values logged in the last instants may still be in flight
    rig.wait_good()
    assert adapter.terminate() == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    plc = rig.plcs["L1"]
    lost = missing_values(rig, plc, t_good + 0.5, t_end)
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
            "values_checked": len([x for x in plc.logged() if t_good + 0.5 <= x[0] <= t_end]),
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
    rig.wait_good()
    t_good = time.time()
    time.sleep(0.5)
    rig.redis.kill()
    time.sleep(1.5)  # changes pile up in the outage buffer
    adapter.signal(signal.SIGTERM)
    t_term = time.time()
    time.sleep(1.0)
    rig.redis.start()
    assert adapter.proc is not None
    assert adapter.proc.wait(30) == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    assert b["buffered_changes"] > 0 and b["pending_changes"] == 0, b  # it did buffer, and flushed all
    plc = rig.plcs["L1"]
    # Everything logged up to the moment SIGTERM was sent is in Redis (the adapter stopped after that).
    assert not missing_values(rig, plc, t_good + 0.5, t_term - 0.8)
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
    rig.wait_good()
    rig.redis.kill()
    time.sleep(3.0)
    rig.redis.start()
    before = rig.counts()
    rig.wait_good(newer_than=before)  # live again, and newer than what Redis had
    logged: dict[str, int] = {}
    for _t, eq, tag, v in rig.plcs["L1"].logged():
        if tag == "part_count":
            logged[eq] = int(v)
    # every station catches up with the newest value the PLC had written by now
    wait_for("current values", lambda: all(rig.counts()[eq] >= n for eq, n in logged.items()), 20)
    assert adapter.alive()
    assert adapter.terminate() == 0, adapter.output()[-2000:]
    b = rig.buffer_report()
    assert b["refused_changes"] > 0 and b["peak_pending_changes"] <= 20, b
    out = adapter.output()
    totals = json.loads(out[out.rindex("stopped; ingest ") + len("stopped; ingest ") :].splitlines()[0])
    assert totals["coalesced"] > 0  # what could not be kept was counted, not dropped silently
    figures = {k: b[k] for k in ("refused_changes", "replayed_changes")}
    record("redis_outage_past_bound", {"bound": 20, **figures, "coalesced": totals["coalesced"]})

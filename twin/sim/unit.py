"""One piece of equipment in the flow model: its visible state, power, energy, counters and breakdowns.

A :class:`Unit`'s visible state is derived, in this order: Off while the shift calendar has the plant
closed; Fault between a breakdown and its repair (exponential times from ``mtbf_s``/``mttr_s``, work in
progress resumes with its remaining time); Off while its line is switched off and it holds no car; Idle
instead of Starved while its line has no work now; else what it is doing (its *phase*: Running,
Changeover, Starved, Blocked, Idle).

**Power**: rated ``power_kw`` when Running, ``idle_power_kw`` otherwise, 0 when Off. Energy and time in
state are integrated on state changes only, and nothing is published unless somebody listens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from twin.model import Equipment, StationState
from twin.sim.options import EPS as _EPS
from twin.sim.options import FAULT as _FAULT
from twin.sim.options import IDLE as _IDLE
from twin.sim.options import OFF as _OFF
from twin.sim.options import PROCESSING as _PROCESSING
from twin.sim.options import RUNNING as _RUNNING
from twin.sim.options import STARVED as _STARVED
from twin.sim.options import STATE_INDEX as _STATE_INDEX
from twin.sim.options import SimGen

if TYPE_CHECKING:
    from twin.sim.engine import FlowSim
    from twin.sim.group import Group

__all__ = ["Unit"]


class Unit:
    """Live state of one piece of equipment: a state machine with power, energy and counters."""

    def __init__(self, sim: FlowSim, eq: Equipment) -> None:
        self.sim = sim
        self.eq = eq
        self.phase = StationState.IDLE  # what the equipment is doing, before fault/off override
        self.fault = False
        self.off = False
        self.model = ""
        self.part_count = 0
        self.energy_kwh = 0.0
        self.alarm = ""
        self.cycle_time_s = 0.0
        self.level = 0
        self.state = StationState.IDLE
        self.power_kw = eq.idle_power_kw
        self._since = 0.0
        self._time = [0.0] * len(_STATE_INDEX)  # seconds per state, by _STATE_INDEX
        self._rated_kw = eq.power_kw
        self._idle_kw = eq.idle_power_kw
        self._processing = eq.type in _PROCESSING
        self.waiting_for_work = True  # phase IDLE/STARVED means "waiting": decided by the group
        self.group: Group | None = None
        self.repaired: simpy.Event = sim.env.event()
        self.working = False
        self.proc: simpy.Process | None = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def time_in(self) -> dict[StationState, float]:
        """Seconds spent in each visible state up to the last :meth:`integrate`."""
        return {s: self._time[i] for s, i in _STATE_INDEX.items()}

    def _derive(self) -> StationState:
        if self.sim.closed:
            return _OFF  # outside the shift calendar (a repair in progress goes on unseen)
        if self.fault:
            return _FAULT
        phase = self.phase
        if phase is _IDLE or phase is _STARVED:
            if self.off:
                return _OFF
            if phase is _STARVED and self.group is not None and not self.group.has_work_now():
                return _IDLE
        return phase

    def _power(self, state: StationState) -> float:
        if state is _OFF:
            return 0.0
        if state is _RUNNING:
            return self._rated_kw
        return self._idle_kw

    def integrate(self) -> None:
        """Account energy and time-in-state up to now (called on state changes, not per tick)."""
        now = self.sim.env.now
        dt = now - self._since
        if dt > 0:
            self.energy_kwh += self.power_kw * dt / 3600.0
            self._time[_STATE_INDEX[self.state]] += dt
            self._since = now

    def refresh(self) -> None:
        """Recompute the visible state; publish state and power if they changed."""
        new = self._derive()
        if new is self.state:
            return
        self.integrate()
        self.state = new
        self.power_kw = self._power(new)
        if self.sim.on_change is None:
            return  # a virtual-time check: nobody listens, skip building the values
        self.sim.publish(self.eq.id, "state", new.value)
        if self._processing:
            self.sim.publish(self.eq.id, "power_kw", self.power_kw)
            self.sim.publish(self.eq.id, "energy_kwh", round(self.energy_kwh, 4))

    def set_phase(self, phase: StationState) -> None:
        """Change what the equipment is doing."""
        self.phase = phase
        self.refresh()

    def set_model(self, model: str) -> None:
        """Set up for another model (publishes ``model`` and the nominal cycle time)."""
        if model != self.model:
            self.model = model
            if self.sim.on_change is not None:
                self.sim.publish(self.eq.id, "model", model)

    # -- work with breakdowns -----------------------------------------------------------------------
    def work(self, duration: float, phase: StationState) -> SimGen:
        """Spend ``duration`` seconds in ``phase``; a breakdown pauses the work until repaired."""
        remaining = duration
        sim = self.sim
        env = sim.env
        while remaining > _EPS:
            if self.fault:
                yield self.repaired
                continue
            if sim.closed:
                yield sim.shift_opened()
                continue
            self.phase = phase
            self.refresh()
            start = env.now
            self.proc = env.active_process  # the process a breakdown interrupts
            self.working = True
            try:
                yield env.timeout(remaining)
                remaining = 0.0
            except simpy.Interrupt:
                remaining -= env.now - start
            finally:
                self.working = False

    def pause(self, cause: str) -> None:
        """Interrupt the work in progress (it resumes with its remaining time in :meth:`work`)."""
        if self.working and self.proc is not None and self.proc.is_alive:
            self.working = False  # a second cause before the process resumes must not interrupt it again
            self.proc.interrupt(cause)

    def breakdowns(self, mtbf_s: float, mttr_s: float) -> SimGen:
        """Failure process: exponential time between failures and to repair."""
        env, rng = self.sim.env, self.sim.rng
        rate = self.sim.options.fault_rate_scale / mtbf_s
        while True:
            yield env.timeout(rng.expovariate(rate))
            if self.state in (StationState.OFF, StationState.IDLE):
                continue  # failures come with operation: equipment that is off or has no work does not break
            self.fault = True
            repair = rng.expovariate(1.0 / mttr_s)
            self.alarm = f"{self.eq.id}: breakdown at t={env.now:.0f}s, repair ~{repair:.0f}s"
            self.sim.publish(self.eq.id, "alarm", self.alarm)
            self.sim.faults += 1
            self.refresh()
            self.pause("fault")
            yield env.timeout(repair)
            self.fault = False
            self.alarm = ""
            self.sim.publish(self.eq.id, "alarm", "")
            self.refresh()
            done, self.repaired = self.repaired, env.event()
            done.succeed()

    def finish_part(self, cycle_s: float) -> None:
        """Count a processed car and publish the counter and the measured cycle time."""
        self.part_count += 1
        self.cycle_time_s = cycle_s
        if self.sim.on_change is None:
            return
        self.sim.publish(self.eq.id, "part_count", self.part_count)
        self.sim.publish(self.eq.id, "cycle_time_s", round(cycle_s, 3))

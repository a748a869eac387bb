"""One SimPy model of the plant's material flow: stations, buffers, cells, AGVs, faults, changeovers.

It runs in virtual time for the scheduler's plan checks and in scaled real time behind the simulated PLCs.
One concept per module, each stating the assumptions it models:

* :mod:`~twin.sim.options`: the knobs (:class:`SimOptions`) and value types (:class:`Lot`, :class:`Part`);
* :mod:`~twin.sim.unit`: one piece of equipment (state, power, energy, breakdowns);
* :mod:`~twin.sim.group`: what lines and blocks share (sequences, WIP, on/off) and the :class:`Fifo`;
* :mod:`~twin.sim.flowline` and :mod:`~twin.sim.cellblock`: a flow line; a block of cells fed by AGVs;
* :mod:`~twin.sim.engine`: :class:`FlowSim` (build, run, follow plans, shift calendar, publish changes);
* :mod:`~twin.sim.defaultplan`: the plan from demand the simulated plant starts with;
* :mod:`~twin.sim.check`: :func:`simulate_plan` and :func:`check_plan` (several seeds, typed results).
"""

from twin.sim.cellblock import CellBlock
from twin.sim.check import CheckResult, SeedResult, check_plan, simulate_plan
from twin.sim.defaultplan import default_plan, line_capabilities
from twin.sim.engine import FlowSim, shift_windows
from twin.sim.flowline import FlowLine
from twin.sim.group import Fifo, Group
from twin.sim.options import ChangeTuple, Lot, OnChange, Part, SimGen, SimOptions
from twin.sim.unit import Unit

__all__ = [
    "CellBlock",
    "ChangeTuple",
    "CheckResult",
    "Fifo",
    "FlowLine",
    "FlowSim",
    "Group",
    "Lot",
    "OnChange",
    "Part",
    "SeedResult",
    "SimGen",
    "SimOptions",
    "Unit",
    "check_plan",
    "default_plan",
    "line_capabilities",
    "shift_windows",
    "simulate_plan",
]

"""Simulated PLCs: real asyncua servers exposing :mod:`twin.sim`'s flow model live (see ``server``)."""

from adapters.simulator.plant import SimulatedPlant, SimulatorError, endpoint_url
from adapters.simulator.server import LineServer, build_line_server, parse_sequence

__all__ = [
    "LineServer",
    "SimulatedPlant",
    "SimulatorError",
    "build_line_server",
    "endpoint_url",
    "parse_sequence",
]

"""A PLC served by python-opcua 0.98 (the legacy ``opcua`` package), for interop tests and demos.

python-opcua runs its server on its own thread, so it can serve while the adapter runs in an asyncio
loop of the same process. The address space mimics what real PLCs have: a namespace referred to by URI
(its index differs from asyncua servers'), nested folders, numeric and string NodeIds, an array, an
enumeration-coded state and engineering units.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEGACY_NS", "LegacyServer", "legacy_server"]

LEGACY_NS = "urn:sdf-twin:legacy"


@dataclass
class LegacyServer:
    """A running python-opcua server and its variables by name."""

    url: str
    ns: int
    server: Any
    nodes: dict[str, Any] = field(default_factory=dict)

    def set(self, name: str, value: Any, variant_type: Any = None) -> None:
        """Change a value (as the PLC program would)."""
        from opcua import ua

        node = self.nodes[name]
        node.set_value(ua.Variant(value, variant_type) if variant_type is not None else value)


@contextmanager
def legacy_server(port: int) -> Iterator[LegacyServer]:
    """Start a python-opcua server on 127.0.0.1:``port``; stopped on exit.

    Nodes (namespace ``urn:sdf-twin:legacy``): ``Objects/Site/Cell7/ROBOT`` with ``Speed`` (``i=3001``,
    Double, EngineeringUnits ``kW``), ``Cycles`` (``i=3002``, Int64), ``ROBOT.state`` (Int32 code),
    ``ROBOT.Joints`` (Double[6]) and ``ROBOT.Program`` (String).
    """
    from opcua import Server, ua

    server = Server()
    url = f"opc.tcp://127.0.0.1:{port}/legacy/"
    server.set_endpoint(url)
    server.set_server_name("python-opcua legacy PLC")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = server.register_namespace(LEGACY_NS)
    site = server.get_objects_node().add_folder(ua.NodeId("Site", ns), ua.QualifiedName("Site", ns))
    cell = site.add_folder(ua.NodeId("Site.Cell7", ns), ua.QualifiedName("Cell7", ns))
    robot = cell.add_object(ua.NodeId("ROBOT", ns), ua.QualifiedName("ROBOT", ns))
    ls = LegacyServer(url, ns, server)
    speed = robot.add_variable(ua.NodeId(3001, ns), ua.QualifiedName("Speed", ns), 0.0, ua.VariantType.Double)
    eu = ua.EUInformation()
    eu.DisplayName = ua.LocalizedText("kW")
    eu.Description = ua.LocalizedText("kilowatt")
    speed.add_property(ua.NodeId(3003, ns), ua.QualifiedName("EngineeringUnits", 0), eu)
    ls.nodes["Speed"] = speed
    ls.nodes["Cycles"] = robot.add_variable(
        ua.NodeId(3002, ns), ua.QualifiedName("Cycles", ns), ua.Variant(0, ua.VariantType.Int64)
    )
    ls.nodes["state"] = robot.add_variable(
        ua.NodeId("ROBOT.state", ns), ua.QualifiedName("state", ns), ua.Variant(0, ua.VariantType.Int32)
    )
    ls.nodes["Joints"] = robot.add_variable(
        ua.NodeId("ROBOT.Joints", ns), ua.QualifiedName("Joints", ns), [0.0] * 6, ua.VariantType.Double
    )
    ls.nodes["Program"] = robot.add_variable(
        ua.NodeId("ROBOT.Program", ns), ua.QualifiedName("Program", ns), "", ua.VariantType.String
    )
    server.start()
    try:
        yield ls
    finally:
        server.stop()

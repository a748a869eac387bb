"""A vendor-shaped PLC served by python-opcua 0.98 (a stack we did not write), for mapping tests.

Its address space looks like what real controllers serve, not like our simulator:

- the namespace ``urn:acme:plc`` is registered after two others, so its index is 4, not 2;
- an S7-style robot cell: quoted string ids ``"DB_Line1"."R01"."State"`` (vendor codes 1 running,
  2 idle, 3 fault), ``"DB_Line1"."R01"."Parts"`` (Int32), ``"DB_Line1"."R01"."Power"`` (Double, W, with
  EUInformation), ``"DB_Line1"."R01"."Energy"`` (Wh), ``"DB_Line1"."R01"."Temps"`` (Double[4]);
- a PackML unit ``L1.PACK.State Code`` (Int32 PackML state), ``L1.PACK.UnitMode`` (Int32, 5 = changeover);
- a press without a state code: Boolean bits ``L1/PRESS/Fault`` and ``L1/PRESS/Running`` and a counter in
  raw tenths ``L1/PRESS/CountRaw`` (ids with slashes), plus a GUID-id and an opaque-id node;
- a LocalizedText status ``L1.AGV.Status``;
- nested folders ``Objects/Plant/Line1/<R01|PACK|PRESS|AGV>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.python_opcua_server import LegacyServer

VENDOR_NS = "urn:acme:plc"
GUID = uuid.UUID("09087e75-8e5e-499b-954f-f2a9603db28a")
OPAQUE = b"press-temp"


#: A running vendor-shaped server and its variables by short name (the python-opcua server handle).
VendorPlc = LegacyServer


def _eu(unit: str, code: str) -> Any:
    from opcua import ua

    eu = ua.EUInformation()
    eu.NamespaceUri = "http://www.opcfoundation.org/UA/units/un/cefact"
    uid = 0
    for ch in code:
        uid = (uid << 8) | ord(ch)
    eu.UnitId = uid
    eu.DisplayName = ua.LocalizedText(unit)
    eu.Description = ua.LocalizedText(unit)
    return eu


@contextmanager
def vendor_plc(port: int, max_nodes: int | None = None) -> Iterator[VendorPlc]:
    """Start the vendor-shaped server on 127.0.0.1:``port``; stopped on exit.

    ``max_nodes`` sets the OperationLimits MaxNodesPerRead / TranslateBrowsePaths / Browse and
    MaxMonitoredItemsPerCall the server advertises (as a small S7-1200 does).
    """
    from opcua import Server, ua

    server = Server()
    url = f"opc.tcp://127.0.0.1:{port}/acme/"
    server.set_endpoint(url)
    server.set_server_name("ACME line controller (python-opcua)")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.register_namespace("urn:acme:other")
    server.register_namespace("urn:acme:diagnostics")
    ns = server.register_namespace(VENDOR_NS)
    plc = VendorPlc(url, ns, server)
    objects = server.get_objects_node()
    plant = objects.add_folder(ua.NodeId("Plant", ns), ua.QualifiedName("Plant", ns))
    line = plant.add_folder(ua.NodeId("Plant.Line1", ns), ua.QualifiedName("Line1", ns))

    def var(
        parent: Any, nid: Any, name: str, value: Any, vt: Any, unit: tuple[str, str] | None = None
    ) -> Any:
        node = parent.add_variable(ua.NodeId(nid, ns), ua.QualifiedName(name, ns), ua.Variant(value, vt))
        if unit is not None:
            node.add_property(ua.NodeId(f"{nid}.EU", ns), ua.QualifiedName("EngineeringUnits", 0), _eu(*unit))
        plc.nodes[name if name not in plc.nodes else str(nid)] = node
        return node

    r01 = line.add_object(ua.NodeId('"DB_Line1"."R01"', ns), ua.QualifiedName("R01", ns))
    db = '"DB_Line1"."R01".'
    var(r01, db + '"State"', "State", 1, ua.VariantType.Int32)
    var(r01, db + '"Parts"', "Parts", 0, ua.VariantType.Int32)
    var(r01, db + '"Power"', "Power", 0.0, ua.VariantType.Double, ("W", "WTT"))
    var(r01, db + '"Energy"', "Energy", 0.0, ua.VariantType.Double, ("Wh", "WHR"))
    temps = var(r01, db + '"Temps"', "Temps", [20.0, 21.0, 22.0, 23.0], ua.VariantType.Double)
    temps.set_attribute(ua.AttributeIds.ValueRank, ua.DataValue(ua.Variant(1, ua.VariantType.Int32)))
    temps.set_attribute(ua.AttributeIds.ArrayDimensions, ua.DataValue(ua.Variant([4], ua.VariantType.UInt32)))

    pack = line.add_object(ua.NodeId("L1.PACK", ns), ua.QualifiedName("PACK", ns))
    plc.nodes["PackState"] = pack.add_variable(
        ua.NodeId("L1.PACK.State Code", ns),
        ua.QualifiedName("State Code", ns),
        ua.Variant(4, ua.VariantType.Int32),
    )
    plc.nodes["UnitMode"] = pack.add_variable(
        ua.NodeId("L1.PACK.UnitMode", ns),
        ua.QualifiedName("UnitMode", ns),
        ua.Variant(1, ua.VariantType.Int32),
    )

    press = line.add_object(ua.NodeId("L1/PRESS", ns), ua.QualifiedName("PRESS", ns))
    var(press, "L1/PRESS/Fault", "Fault", False, ua.VariantType.Boolean)
    var(press, "L1/PRESS/Running", "Running", False, ua.VariantType.Boolean)
    var(press, "L1/PRESS/CountRaw", "CountRaw", 0, ua.VariantType.Int32)
    plc.nodes["Guid"] = press.add_variable(
        ua.NodeId(GUID, ns, ua.NodeIdType.Guid),
        ua.QualifiedName("Load", ns),
        ua.Variant(0.5, ua.VariantType.Double),
    )
    plc.nodes["Opaque"] = press.add_variable(
        ua.NodeId(OPAQUE, ns, ua.NodeIdType.ByteString),
        ua.QualifiedName("Temperature", ns),
        ua.Variant(21.5, ua.VariantType.Double),
    )

    agv = line.add_object(ua.NodeId("L1.AGV", ns), ua.QualifiedName("AGV", ns))
    plc.nodes["AgvStatus"] = agv.add_variable(
        ua.NodeId("L1.AGV.Status", ns),
        ua.QualifiedName("Status", ns),
        ua.Variant(ua.LocalizedText("Idle"), ua.VariantType.LocalizedText),
    )
    if max_nodes is not None:
        for i in (11705, 11710, 11712, 11714):  # Server_ServerCapabilities_OperationLimits_*
            server.get_node(ua.NodeId(i)).set_value(ua.Variant(max_nodes, ua.VariantType.UInt32))
    server.start()
    try:
        yield plc
    finally:
        server.stop()

"""One simulated PLC: a real asyncua server for one line (or cell block) of a plant.

Address space (namespace :data:`twin.model.SIM_NAMESPACE_URI`, index looked up by URI)::

    Objects/<line_id>                       Object   s=<line_id>
      <equipment_id>                        Object   s=<equipment_id>
        <tag>                               Variable s=<equipment_id>.<tag>   (one per Equipment.tags())
          EngineeringUnits (ns=0)           Property EUInformation, for tags with a unit
      plan                                  Object   s=<line_id>.plan
        version                             Variable s=<line_id>.plan.version   Int64  (read-only)
        sequence                            Variable s=<line_id>.plan.sequence  String (read-only, JSON)
        Load(version Int64, sequence String) -> String   Method s=<line_id>.plan.Load

Lines with more than :data:`FOLDER_SIZE` pieces of equipment put them in folders ``<line_id>.g<k>``
(asyncua's address space is quadratic in the number of children of one parent); NodeIds do not change.

Variable types: ``state`` is Int32 holding the :data:`twin.model.STATE_CODES` code, with DataType the
enumeration ``StationState`` (``s=sdf.StationState``, base type Enumeration, fields in STATE_CODES order);
``model``/``alarm`` and other string tags String; ``part_count``/``level`` and other int tags Int64; float
tags Double; bool tags Boolean.

The plan contract (what the write-back client calls): ``Load(version, sequence)`` where ``sequence`` is a
JSON list of ``{"resource", "model", "quantity", "start_s", "end_s"}`` (seconds; the earliest lot starts
when the plan is loaded, the others no earlier than their offset from it; a loaded plan runs once);
resources must be this line, its cells, or (for a flow line) its first station. Returns ``"accepted"``, or
``"rejected: <reason>"`` with nothing changed. A version must be newer than the loaded one; re-sending the
loaded version with the same sequence is accepted again (an idempotent retry). An empty list switches the
line off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.methods import uamethod
from asyncua.common.structures104 import new_enum
from asyncua.server.server import Server
from cryptography import x509

from adapters.opcua.security import ServerSecurity, apply_server_security
from adapters.opcua.variants import VARIANT_TYPES, initial_variant
from adapters.simulator.startup import init_server
from twin.model import SIM_NAMESPACE_URI, STATE_CODES, Line, StationState, TagType

#: Most equipment objects directly under a line object; more go into folders of this size.
FOLDER_SIZE = 200

_STATE_BY_NAME = {s.value: code for s, code in STATE_CODES.items()}


class _NoSecurityNotes(logging.Filter):
    """Drops asyncua's start-up warnings about a server that deliberately offers SecurityPolicy None."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (msg.startswith("No signing policy") or msg.startswith("No encrypting policy"))


_server_log = logging.getLogger("asyncua.server.server")
if not any(isinstance(f, _NoSecurityNotes) for f in _server_log.filters):
    _server_log.addFilter(_NoSecurityNotes())

#: Called with ``(line_id, version, assignments)``; returns None if accepted, else the rejection reason.
PlanLoader = Callable[[str, int, list[dict[str, Any]]], Awaitable[str | None]]


@dataclass
class LineServer:
    """A running simulated PLC: its server, endpoint and variables by ``(equipment, tag)``."""

    line_id: str
    server: Server
    endpoint: str
    ns: int
    variables: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType]] = field(default_factory=dict)
    plan_version: int = 0
    plan_sequence: str = "[]"
    loads: list[tuple[int, str, str]] = field(default_factory=list)

    async def write(self, changes: list[tuple[str, str, Any, str, float]]) -> int:
        """Write a batch of simulator changes into the address space (no network round trips).

        ``state`` names are turned into their integer codes; values of unknown tags are ignored. Returns
        the number of values written.
        """
        now = datetime.now(UTC)
        n = 0
        for eq, tag, value, _quality, ts in changes:
            node = self.variables.get((eq, tag))
            if node is None:
                continue
            nid, vt = node
            if vt == ua.VariantType.Int32 and isinstance(value, str):
                value = _STATE_BY_NAME.get(value, -1)
            elif vt == ua.VariantType.Double:
                value = float(value)
            elif vt == ua.VariantType.Int64:
                value = int(value)
            dv = _dv(value, vt, datetime.fromtimestamp(ts, UTC), now)
            await self.server.write_attribute_value(nid, dv)
            n += 1
        return n

    async def stop(self) -> None:
        """Stop the server (idempotent)."""
        await self.server.stop()


def _nid(ident: str, ns: int) -> ua.NodeId:
    """A string NodeId (asyncua's annotations want its own int/str subclasses; plain values work)."""
    return ua.NodeId(ident, ns)  # type: ignore[arg-type,unused-ignore]


def _dv(value: Any, vt: ua.VariantType, source: datetime, server: datetime) -> ua.DataValue:
    return ua.DataValue(ua.Variant(value, vt), SourceTimestamp=source, ServerTimestamp=server)  # type: ignore[arg-type,unused-ignore]


def _eu(unit: str) -> ua.EUInformation:
    eu = ua.EUInformation()
    eu.NamespaceUri = "http://www.opcfoundation.org/UA/units/un/cefact"
    eu.UnitId = -1
    eu.DisplayName = ua.LocalizedText(unit)
    eu.Description = ua.LocalizedText(unit)
    return eu


def _certificate_uri(path: Path) -> str | None:
    """The application URI in a certificate's subjectAltName (DER or PEM), if any."""
    try:
        raw = path.read_bytes()
        cert = (
            x509.load_pem_x509_certificate(raw)
            if raw.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(raw)
        )
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = uris.get_values_for_type(x509.UniformResourceIdentifier)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None  # asyncua reports an unreadable certificate itself when it loads it
    return found[0] if found else None


def parse_sequence(raw: str) -> list[dict[str, Any]]:
    """Validate a plan sequence (JSON text); raises ValueError naming the problem."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"sequence is not JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(data, list):
        raise ValueError("sequence must be a JSON list")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"sequence[{i}] is not an object")
        missing = [k for k in ("resource", "model", "quantity") if k not in item]
        if missing:
            raise ValueError(f"sequence[{i}] lacks {', '.join(missing)}")
        q = item["quantity"]
        if not isinstance(q, int) or isinstance(q, bool) or q < 0:
            raise ValueError(f"sequence[{i}].quantity must be an integer >= 0 (got {q!r})")
        for k in ("start_s", "end_s"):
            v = item.get(k, 0.0)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"sequence[{i}].{k} must be a number (got {v!r})")
        out.append(
            {
                "resource": str(item["resource"]),
                "model": str(item["model"]),
                "quantity": q,
                "start_s": float(item.get("start_s", 0.0)),
                "end_s": float(item.get("end_s", 0.0)),
            }
        )
    return out


async def build_line_server(
    line: Line,
    endpoint: str,
    *,
    loader: PlanLoader | None = None,
    security: ServerSecurity | None = None,
    namespace_uri: str = SIM_NAMESPACE_URI,
    server_name: str | None = None,
    server: Server | None = None,
) -> LineServer:
    """Create and start the simulated PLC of ``line`` on ``endpoint``: the one place servers are built.

    ``security`` (certificate, key, trusted client certificates, accounts) is applied before the start;
    without it the server offers only SecurityPolicy None. ``loader`` handles ``plan.Load`` calls.
    ``server``: an already initialised, unstarted asyncua server to use (default: a new one, its standard
    address space loaded from the cached shelf, see :mod:`adapters.simulator.startup`).
    """
    if server is None:
        server = await init_server()
    server.set_endpoint(endpoint)
    server.set_server_name(server_name or f"sdf-twin simulated PLC {line.id}")
    if security is not None:
        app_uri = _certificate_uri(security.certificate) if security.certificate is not None else None
        if app_uri:  # a server's ApplicationUri must be the one its certificate names
            await server.set_application_uri(app_uri)
        await apply_server_security(server, security)
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(namespace_uri)
    ls = LineServer(line.id, server, endpoint, ns)
    state_type = await new_enum(
        server, _nid("sdf.StationState", ns), "StationState", [s.value for s in StationState]
    )
    line_obj = await server.nodes.objects.add_object(_nid(line.id, ns), ua.QualifiedName(line.id, ns))
    parent = line_obj
    for i, eq in enumerate(line.equipment):
        if len(line.equipment) > FOLDER_SIZE and i % FOLDER_SIZE == 0:
            name = f"{line.id}.g{i // FOLDER_SIZE}"
            parent = await line_obj.add_folder(_nid(name, ns), ua.QualifiedName(name, ns))
        obj = await parent.add_object(_nid(eq.id, ns), ua.QualifiedName(eq.id, ns))
        for tag in eq.tags():
            vt = VARIANT_TYPES[tag.type]
            nid = _nid(f"{eq.id}.{tag.name}", ns)
            var = await obj.add_variable(
                nid,
                ua.QualifiedName(tag.name, ns),
                initial_variant(tag.type),
                datatype=state_type.nodeid if tag.type == TagType.ENUM else None,
            )
            if tag.unit:
                await var.add_property(
                    _nid(f"{eq.id}.{tag.name}.EngineeringUnits", ns),
                    ua.QualifiedName("EngineeringUnits", 0),
                    ua.Variant(_eu(tag.unit), ua.VariantType.ExtensionObject),
                )
            ls.variables[(eq.id, tag.name)] = (nid, vt)
    await _add_plan_object(ls, line_obj, loader)
    await server.start()
    return ls


async def _add_plan_object(ls: LineServer, line_obj: Any, loader: PlanLoader | None) -> None:
    ns, line_id = ls.ns, ls.line_id
    obj = await line_obj.add_object(_nid(f"{line_id}.plan", ns), ua.QualifiedName("plan", ns))
    version = await obj.add_variable(
        _nid(f"{line_id}.plan.version", ns),
        ua.QualifiedName("version", ns),
        ua.Variant(0, ua.VariantType.Int64),
    )
    sequence = await obj.add_variable(
        _nid(f"{line_id}.plan.sequence", ns),
        ua.QualifiedName("sequence", ns),
        ua.Variant("[]", ua.VariantType.String),
    )

    @uamethod  # type: ignore[untyped-decorator,unused-ignore]
    async def load(_parent: Any, v: int, seq: str) -> str:
        status = await _load(ls, v, seq, loader)
        ls.loads.append((int(v), str(seq), status))
        if status == "accepted":
            await version.write_value(ua.Variant(ls.plan_version, ua.VariantType.Int64))
            await sequence.write_value(ua.Variant(ls.plan_sequence, ua.VariantType.String))
        return status

    await obj.add_method(
        _nid(f"{line_id}.plan.Load", ns),
        ua.QualifiedName("Load", ns),
        load,
        [ua.VariantType.Int64, ua.VariantType.String],
        [ua.VariantType.String],
    )


async def _load(ls: LineServer, v: Any, seq: Any, loader: PlanLoader | None) -> str:
    if not isinstance(v, int) or isinstance(v, bool):
        return f"rejected: version must be an integer (got {v!r})"
    if not isinstance(seq, str):
        return "rejected: sequence must be a string"
    if v < ls.plan_version or (v == ls.plan_version and seq != ls.plan_sequence):
        return f"rejected: version {v} is not newer than the loaded version {ls.plan_version}"
    if v == ls.plan_version:
        return "accepted"  # an idempotent retry of what is loaded
    try:
        items = parse_sequence(seq)
    except ValueError as exc:
        return f"rejected: {exc}"
    if loader is not None:
        reason = await loader(ls.line_id, v, items)
        if reason is not None:
            return f"rejected: {reason}"
    ls.plan_version, ls.plan_sequence = v, seq
    return "accepted"

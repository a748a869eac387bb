"""Write-back: push a plan (sequence + version) to the PLC of a line through its ``plan.Load`` method.

Every attempt is checked against the global kill switch in Redis first and leaves one audit-stream entry
(who, what, when, result), whether it was refused, accepted, rejected by the PLC or failed. Writes use
their own credentials (a write account), separate from the read-only mirroring session.

The scheduler (in ``twin/``, which may not import this package) is handed a :class:`PlanWriter`: a plain
callable ``writer(line_id, plan) -> WriteResult`` wired by the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from asyncua import ua

from adapters.opcua.errors import AdapterError, MappingError
from adapters.opcua.mapping import parse_nodeid
from adapters.opcua.security import ClientSecurity, make_client, translate_connect_error
from adapters.opcua.session import _hard_close
from twin.model import PROCESSING_TYPES, SIM_NAMESPACE_URI, EquipmentType, Line, LineKind, Plan, Plant

log = logging.getLogger(__name__)

ACTION = "plan.write"


@dataclass(frozen=True)
class WriteCredentials:
    """The write account and channel security (separate from the adapters' read credentials)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: ClientSecurity | None = None

    def client_security(self) -> ClientSecurity | None:
        """The client security with this account's user name and password filled in."""
        if self.security is None and self.username is None:
            return None
        base = self.security or ClientSecurity()
        if self.username is not None:
            base = replace(base, username=self.username, password=self.password)
        return base


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one write attempt (also what the audit entry records)."""

    line: str
    version: int
    ok: bool
    status: str  # accepted | rejected | disabled | error
    detail: str = ""
    endpoint: str = ""
    items: int = 0
    audit_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def line_sequence(line: Line, plan: Plan) -> list[dict[str, Any]]:
    """The part of ``plan`` a line's PLC executes, in start order, in the PLC's Load format.

    Work on the line itself, its cells, or its first station is passed as is; work on further stations of a
    flow line is the same car lot passing through, so it is sent once, as work of the line.
    """
    ids = {e.id: e for e in line.equipment}
    processing = [e for e in line.equipment if e.type in PROCESSING_TYPES]
    first = processing[0].id if processing else None
    out: list[dict[str, Any]] = []
    seen_lots: set[tuple[str, str]] = set()
    for a in sorted(plan.assignments, key=lambda a: (a.start_s, a.resource)):
        if a.resource == line.id or a.resource == first:
            resource = a.resource
        elif a.resource in ids:
            eq = ids[a.resource]
            cell = line.kind == LineKind.CELLS or eq.type == EquipmentType.CELL
            resource = a.resource if cell else line.id
        else:
            continue
        if a.lot and resource == line.id:
            if (a.lot, a.model) in seen_lots:
                continue
            seen_lots.add((a.lot, a.model))
        out.append(
            {
                "resource": resource,
                "model": a.model,
                "quantity": a.quantity,
                "start_s": float(a.start_s),
                "end_s": float(a.end_s),
            }
        )
    return out


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def write_plan(
    line: Line,
    plan: Plan,
    *,
    store: Any,
    credentials: WriteCredentials | None,
    actor: str,
    endpoint: str | None = None,
    timeout: float = 10.0,
) -> WriteResult:
    """Push ``plan`` (its part for ``line``) to the line's PLC; audited; honours the kill switch.

    ``store`` is a :class:`twin.store.AsyncTwinStore` or a :class:`twin.store.TwinStore` (both offer
    ``writeback_enabled`` and ``append_audit``). Never raises for a refused or failed write: the
    :class:`WriteResult` says what happened (the audit stream too). Store errors propagate.
    """
    url = endpoint or (line.opcua.endpoint if line.opcua else None)
    ns_uri = line.opcua.namespace_uri if line.opcua else SIM_NAMESPACE_URI
    seq = line_sequence(line, plan)
    seq_json = json.dumps(seq, separators=(",", ":"))
    detail: dict[str, Any] = {
        "line": line.id,
        "endpoint": url,
        "version": plan.version,
        "items": len(seq),
        "sequence_sha256": hashlib.sha256(seq_json.encode()).hexdigest()[:16],
    }

    async def audit(result: WriteResult) -> WriteResult:
        d = {**detail, "status": result.status, "message": result.detail}
        res = f"{result.status}: {result.detail}" if result.detail else result.status
        sid = await _maybe(store.append_audit(actor, ACTION, d, result=res))
        return replace(result, audit_id=str(sid))

    base = WriteResult(line.id, plan.version, False, "error", endpoint=url or "", items=len(seq))
    if not await _maybe(store.writeback_enabled()):
        return await audit(
            replace(base, status="disabled", detail="write-back is switched off (kill switch)")
        )
    if url is None:
        return await audit(replace(base, detail=f"line {line.id} has no OPC UA endpoint"))
    sec = credentials.client_security() if credentials else None
    client = None
    try:
        client = await make_client(url, sec, timeout=timeout)
        try:
            await asyncio.wait_for(client.connect(), timeout)
        except (OSError, TimeoutError, ua.UaError) as exc:
            raise translate_connect_error(url, exc, sec) from exc
        ns = await client.get_namespace_array()
        obj = client.get_node(parse_nodeid(f"nsu={ns_uri};s={line.id}.plan", ns))
        method = parse_nodeid(f"nsu={ns_uri};s={line.id}.plan.Load", ns)
        status = await asyncio.wait_for(
            obj.call_method(
                method,
                ua.Variant(plan.version, ua.VariantType.Int64),
                ua.Variant(seq_json, ua.VariantType.String),
            ),
            timeout,
        )
    except AdapterError as exc:
        return await audit(replace(base, detail=str(exc)))
    except ua.UaStatusCodeError as exc:
        msg = f"{url}: plan.Load failed: {ua.StatusCode(exc.code).name}"
        if exc.code == ua.StatusCodes.BadUserAccessDenied:
            msg += " (the write account lacks the right to call it)"
        return await audit(replace(base, detail=msg))
    except (OSError, TimeoutError, ua.UaError) as exc:
        return await audit(replace(base, detail=str(translate_connect_error(url, exc, sec))))
    finally:
        if client is not None:
            await _hard_close(client)
    text = str(status)
    if text == "accepted" or text == "ok":
        log.info("plan v%s written to %s (%d items)", plan.version, line.id, len(seq))
        return await audit(replace(base, ok=True, status="accepted"))
    reason = text.split(":", 1)[1].strip() if text.startswith("rejected:") else text
    return await audit(replace(base, status="rejected", detail=reason))


class PlanWriter:
    """A synchronous callable ``writer(line_id, plan) -> WriteResult`` for the scheduler.

    Works from plain code and from inside a running event loop (it then runs the write on a worker thread and
    waits); async code awaits :meth:`write` / :meth:`apush`, which run in its own loop.
    """

    def __init__(
        self,
        plant: Plant,
        store: Any,
        credentials: WriteCredentials | None,
        actor: str = "scheduler",
        endpoints: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.lines = plant.line_by_id()
        self.store = store
        self.credentials = credentials
        self.actor = actor
        self.endpoints = dict(endpoints or {})
        self.timeout = timeout

    def __call__(self, line_id: str, plan: Plan) -> WriteResult:
        """Write ``plan`` to ``line_id`` and wait for the result.

        Inside a running event loop this blocks that loop until the write is done (up to ``timeout``);
        async callers should ``await`` :meth:`write` instead.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.write(line_id, plan))
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["r"] = asyncio.run(self.write(line_id, plan))
            except BaseException as exc:
                box["e"] = exc

        t = threading.Thread(target=work, name=f"writeback-{line_id}")
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        result: WriteResult = box["r"]
        return result

    def push(self, plan: Plan) -> list[WriteResult]:
        """Write ``plan`` to every line that has an endpoint."""
        return [self(lid, plan) for lid in self._targets()]

    async def write(self, line_id: str, plan: Plan) -> WriteResult:
        """:meth:`__call__` for async callers: runs in the caller's event loop instead of blocking it."""
        try:
            line = self.lines[line_id]
        except KeyError:
            raise MappingError(f"unknown line {line_id!r}") from None
        return await write_plan(
            line,
            plan,
            store=self.store,
            credentials=self.credentials,
            actor=self.actor,
            endpoint=self.endpoints.get(line_id),
            timeout=self.timeout,
        )

    async def apush(self, plan: Plan) -> list[WriteResult]:
        """:meth:`push` for async callers: the lines are written concurrently."""
        return list(await asyncio.gather(*(self.write(lid, plan) for lid in self._targets())))

    def _targets(self) -> list[str]:
        return [lid for lid, ln in self.lines.items() if ln.opcua or lid in self.endpoints]

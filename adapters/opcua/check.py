"""``twin adapt --check``: connect, resolve the mapping, read every tag once through its transforms.

Nothing is written to the twin. One :class:`CheckRow` per tag: the node it resolved to, the node's type
and unit, the value as it would be stored (after transforms) with its quality, and the problem if the
binding cannot mirror. The same checks as the running adapter (:mod:`adapters.opcua.transforms`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from asyncua import Client, ua

from adapters.opcua.limits import read_attribute
from adapters.opcua.mapping import TagBinding, format_nodeid
from adapters.opcua.resolve import resolve
from adapters.opcua.security import ClientSecurity, make_client, translate_connect_error
from adapters.opcua.transforms import handle_checks
from adapters.opcua.values import BAD, Flag

__all__ = ["CheckRow", "check_bindings", "connected"]


@dataclass(slots=True)
class CheckRow:
    """One tag as ``twin adapt --check`` shows it."""

    tag: str
    node: str
    type: str = ""
    unit: str = ""
    value: Any = None
    quality: str = ""
    problem: str = ""

    def as_json(self) -> dict[str, Any]:
        """A plain dict."""
        return asdict(self)


@asynccontextmanager
async def connected(
    url: str, security: ClientSecurity | None = None, timeout: float = 5.0
) -> AsyncIterator[Client]:
    """A connected client for a one-shot job (browse, check); connection errors in the adapters' terms."""
    from adapters.opcua.session import _hard_close

    try:
        client = await make_client(url, security, timeout=timeout)
        await asyncio.wait_for(client.connect(), timeout * 2)
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise translate_connect_error(url, exc, security) from exc
    try:
        yield client
    finally:
        await _hard_close(client)


def _evaluate(checks: Sequence[Any], values: Sequence[ua.DataValue]) -> tuple[Any, str]:
    """The value and quality the sink would store after reading every input of a tag once."""
    out: Any = None
    quality = "good"
    for check, dv in zip(checks, values, strict=True):
        sev = (dv.StatusCode.value >> 30) if dv.StatusCode is not None else 0
        if sev > 1:
            return None, "bad"
        raw = dv.Value.Value if dv.Value is not None else None
        if sev:
            quality = "uncertain"
        out = check(raw)
        if out is BAD:
            return raw if isinstance(raw, int | float | str | bool) else None, "bad"
    if type(out) is Flag:
        return out.raw, out.quality if quality == "good" else quality
    return out, quality


async def check_bindings(client: Client, bindings: Sequence[TagBinding]) -> list[CheckRow]:
    """Resolve ``bindings`` on ``client``'s server and read each tag once; rows in binding order."""
    mapping = await resolve(client, bindings)
    namespaces = list(await client.get_namespace_array())
    rows: dict[str, CheckRow] = {b.name: CheckRow(b.name, b.spec) for b in bindings}
    for p in mapping.problems:
        row = rows[f"{p.equipment}.{p.tag}"]
        row.problem = "; ".join(x for x in (row.problem, p.problem) if x)
        row.quality = "bad" if p.fatal else row.quality
    ids = [n for t in mapping.tags for n in t.nodeids]
    values = await read_attribute(client, ids, ua.AttributeIds.Value, mapping.limits.read)
    k = 0
    for t in mapping.tags:
        b = t.binding
        row = rows[b.name]
        n = len(t.nodeids)
        checks = handle_checks(b.tag, len(t.rule_ids), t.nodeid is not None, t.enum_names, t.unit)
        row.value, row.quality = _evaluate(checks, values[k : k + n])
        k += n
        row.node = " | ".join(format_nodeid(x, namespaces) for x in t.nodeids)
        row.type = t.data_type + ("[]" if t.is_array else "")
        if t.server_unit and b.tag.unit and t.server_unit != b.tag.unit:
            row.unit = f"{t.server_unit} -> {b.tag.unit}"
        else:
            row.unit = b.tag.unit or t.server_unit or ""
    return list(rows.values())

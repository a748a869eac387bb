"""``twin opcua trust list|add|remove|reject``: the OPC UA trust lists of the adapter's certificate store.

Registered as ``twin opcua trust``; it can move under ``twin opcua trust`` once that group exists on main.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from twin.cli.common import console, fail, print_json
from twin.cli.opcua import opcua_app

__all__ = ["trust_add", "trust_app", "trust_list", "trust_reject", "trust_remove"]

trust_app = typer.Typer(
    help="OPC UA trust lists (--pki DIR): trusted and rejected server certificates, the adapter's own.",
    no_args_is_help=True,
)
opcua_app.add_typer(trust_app, name="trust")

PKI_OPTION = typer.Option(
    Path("pki"), "--pki", envvar="TWIN_PKI_DIR", help="The adapter's certificate store."
)


def _store(directory: Path) -> Any:
    from adapters.opcua.pki import PkiStore

    return PkiStore(directory)


def _run(fn: Any, *args: Any) -> Any:
    """Call a store operation; its refusal (unknown thumbprint, not a certificate) is one line, exit 2."""
    from adapters.opcua.errors import SecurityError

    try:
        return fn(*args)
    except SecurityError as exc:
        fail(str(exc), code=2)


@trust_app.command("list")
def trust_list(pki: Path = PKI_OPTION, json_out: bool = typer.Option(False, "--json", help="JSON.")) -> None:
    """Trusted and rejected server certificates (rejected ones wait for review), and the adapter's own."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from adapters.opcua.pki import thumbprint

    store = _store(pki)
    rows = [c.as_dict() for c in store.entries()]
    own = store.own_certificate()
    if own is not None:
        own_row = {"kind": "own", "thumbprint": thumbprint(own.public_bytes(Encoding.DER)),
                   "subject": own.subject.rfc4514_string(), "not_after": own.not_valid_after_utc.isoformat(),
                   "file": str(store.cert_path)}  # fmt: skip
        rows.insert(0, own_row)
    if json_out:
        print_json({"pki": str(pki), "certificates": rows})
        return
    if not rows:
        console.print(f"no certificates in {pki}", highlight=False)
    for r in rows:
        console.print(
            f"{r['kind']:8} {r['thumbprint']}  until {r['not_after'][:10]}  {r['subject']}",
            highlight=False,
            markup=False,
        )


@trust_app.command("add")
def trust_add(
    source: str = typer.Argument(..., help="Thumbprint of a rejected certificate, or a certificate file."),
    pki: Path = PKI_OPTION,
) -> None:
    """Trust a server certificate: a rejected one (by thumbprint) or a file (DER or PEM)."""
    c = _run(_store(pki).trust, source)
    console.print(f"trusted {c.thumbprint} {c.subject}", highlight=False, markup=False)


@trust_app.command("remove")
def trust_remove(thumbprint: str = typer.Argument(...), pki: Path = PKI_OPTION) -> None:
    """Delete a certificate from the trusted or rejected list."""
    c = _run(_store(pki).remove, thumbprint)
    console.print(f"removed {c.kind} {c.thumbprint} {c.subject}", highlight=False, markup=False)


@trust_app.command("reject")
def trust_reject(thumbprint: str = typer.Argument(...), pki: Path = PKI_OPTION) -> None:
    """Stop trusting a server certificate (it moves to the rejected list)."""
    c = _run(_store(pki).reject, thumbprint)
    console.print(f"rejected {c.thumbprint} {c.subject}", highlight=False, markup=False)

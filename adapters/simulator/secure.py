"""Security of the simulated PLCs from command-line choices (``twin sim --security ...``).

Turns a mode (``none``, ``sign``, ``sign-encrypt``), an optional certificate/key, a directory of trusted
client certificates and ``NAME:PASSWORD[:ROLE]`` accounts into :class:`adapters.opcua.security.ServerSecurity`
(the server side of the adapters' security layer). Without ``--cert``/``--key`` a self-signed server
certificate is generated at run time into a directory the caller owns (a temporary one): nothing is ever
written into the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.opcua.security import ROLES, ServerSecurity, generate_certificate
from adapters.simulator.plant import SimulatorError

#: ``--security`` values and the OPC UA message security modes they offer.
SECURITY_MODES: dict[str, tuple[str, ...]] = {
    "none": (),
    "sign": ("Sign",),
    "sign-encrypt": ("SignAndEncrypt",),
}
#: Role of an account given without one: may read, subscribe, and call ``plan.Load``.
DEFAULT_ROLE = "writer"
SIM_APP_URI = "urn:sdf-twin:simulated-plc"


@dataclass(frozen=True)
class SimSecurity:
    """What ``twin sim`` serves with: the server security (None: open) and its certificate, if any."""

    server: ServerSecurity | None
    certificate: Path | None = None
    generated: bool = False


def parse_user(spec: str) -> tuple[str, str, str]:
    """``NAME:PASSWORD[:ROLE]`` -> (name, password, role); the role defaults to :data:`DEFAULT_ROLE`.

    The password may not contain ``:`` when a role is given (``a:b:c`` is name a, password b, role c,
    if c is a role; otherwise the password is ``b:c``).
    """
    name, sep, rest = spec.partition(":")
    if not sep or not name or not rest:
        raise SimulatorError(f"--user {spec.split(':', 1)[0]!r}: expected NAME:PASSWORD[:ROLE]")
    password, role = rest, DEFAULT_ROLE
    head, sep2, tail = rest.rpartition(":")
    if sep2 and tail in ROLES and head:
        password, role = head, tail
    return name, password, role


def sim_security(
    mode: str,
    *,
    cert: Path | None,
    key: Path | None,
    trusted_clients: Sequence[Path],
    users: Sequence[str],
    workdir: Path,
) -> SimSecurity:
    """Validate the choices (one clear :class:`SimulatorError` each) and build the server security."""
    if mode not in SECURITY_MODES:
        raise SimulatorError(f"--security must be one of {', '.join(SECURITY_MODES)} (got {mode!r})")
    if (cert is None) != (key is None):
        raise SimulatorError("--cert and --key go together: give both or neither")
    for label, path in (("--cert", cert), ("--key", key)):
        if path is not None and not path.is_file():
            raise SimulatorError(f"{label} {path}: no such file")
    for d in trusted_clients:
        if not d.exists():
            raise SimulatorError(f"--trusted-clients {d}: no such file or directory")
    accounts: dict[str, tuple[str, str]] = {}
    for spec in users:
        name, password, role = parse_user(spec)
        if name in accounts:
            raise SimulatorError(f"--user {name!r} is given twice")
        accounts[name] = (password, role)
    if mode == "none":
        if cert is not None or trusted_clients:
            raise SimulatorError("--cert/--key/--trusted-clients need --security sign or sign-encrypt")
        if not accounts:
            return SimSecurity(None)
        return SimSecurity(ServerSecurity(users=accounts))
    if not trusted_clients:
        raise SimulatorError(
            f"--security {mode} needs --trusted-clients DIR (the client certificates this PLC accepts); "
            "without a trust list any client certificate would be accepted"
        )
    generated = False
    if cert is None or key is None:
        pair = generate_certificate(workdir, "sdf-twin-sim", SIM_APP_URI, server=True)
        cert, key, generated = pair.cert, pair.key, True
    server = ServerSecurity(
        certificate=cert,
        private_key=key,
        trusted_clients=tuple(trusted_clients),
        modes=SECURITY_MODES[mode],
        users=accounts,
    )
    return SimSecurity(server, cert, generated)

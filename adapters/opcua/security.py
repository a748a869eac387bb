"""OPC UA security for both ends: Basic256Sha256 Sign / SignAndEncrypt, trust lists, user names.

Client side (:class:`ClientSecurity`, :func:`make_client`): the server's certificate is checked against a
trust list *before* the session is used (asyncua's client checks nothing by default), and user
credentials are sent. Server side (:class:`ServerSecurity`, :func:`apply_server_security`, shared with the
simulator): only the listed security policies, only listed client certificates (asyncua's default server
trusts every certificate), and optional user name / password accounts with roles.

Certificates are generated at run time (:func:`generate_certificate`) into a directory the caller owns;
none are ever committed.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua
from asyncua.crypto import cert_gen, security_policies
from asyncua.crypto.permission_rules import ADMIN_TYPES, USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from adapters.opcua.errors import AuthenticationError, ConnectError, SecurityError, UntrustedServerError

#: Security modes we speak.
MODES = ("None", "Sign", "SignAndEncrypt")
CLIENT_APP_URI = "urn:sdf-twin:adapter"


@dataclass(frozen=True)
class CertPair:
    """A certificate (DER) and its private key (PEM) on disk, and the application URI it names."""

    cert: Path
    key: Path
    app_uri: str


def generate_certificate(directory: Path, name: str, app_uri: str, *, server: bool) -> CertPair:
    """A self-signed application certificate for ``app_uri`` (valid for a year) written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    host = socket.gethostname()
    sans: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(app_uri),
        x509.DNSName(host),
        x509.DNSName("localhost"),
    ]
    use = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = cert_gen.generate_self_signed_app_certificate(key, name, {}, sans, extended=use, days=365)
    cert_path = directory / f"{name}.der"
    key_path = directory / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    key_path.chmod(0o600)
    return CertPair(cert_path, key_path, app_uri)


def trust_dir(directory: Path, certs: Sequence[Path]) -> Path:
    """A trust-list directory holding copies of ``certs`` (what :class:`TrustStore` reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    for c in certs:
        (directory / c.name).write_bytes(c.read_bytes())
    return directory


# --------------------------------------------------------------------------- client side
@dataclass(frozen=True)
class ClientSecurity:
    """How an adapter connects: security mode, its certificate, the servers it trusts, its user."""

    mode: str = "None"
    policy: str = "Basic256Sha256"
    certificate: Path | None = None
    private_key: Path | None = None
    app_uri: str = CLIENT_APP_URI
    #: Directories or files of trusted server certificates; required for Sign / SignAndEncrypt.
    trusted_servers: tuple[Path, ...] = ()
    #: Where refused server certificates are kept for review (``twin opcua trust list``); None: not kept.
    rejected_dir: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SecurityError(f"unknown security mode {self.mode!r} (use one of {', '.join(MODES)})")
        if self.mode != "None":
            if self.certificate is None or self.private_key is None:
                raise SecurityError(f"security mode {self.mode} needs a client certificate and private key")
            if not self.trusted_servers:
                raise SecurityError(
                    f"security mode {self.mode} needs a trust list of server certificates (trusted_servers)"
                )


async def _trust_store(paths: Sequence[Path]) -> TrustStore:
    store = TrustStore(list(paths), [])
    await store.load()
    return store


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ua.UaStatusCodeError):
        return f"{type(exc).__name__} ({ua.StatusCode(exc.code).doc or exc.code})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def make_client(url: str, sec: ClientSecurity | None = None, *, timeout: float = 4.0) -> Client:
    """An unconnected asyncua client for ``url`` with ``sec`` applied (fetches the server's endpoints).

    For a secure mode the server certificate offered by the endpoint is checked against the trust list
    here, so an untrusted server is refused before any credentials are sent.
    """
    # Our own watchdog (stale detection from publish responses) decides about liveness; asyncua's 1 s
    # probe would drop a session whose big read takes over a second.
    client = Client(url, timeout=timeout, watchdog_intervall=max(5.0, timeout))
    client.application_uri = CLIENT_APP_URI
    client.name = client.description = "sdf-twin adapter"
    # Publish requests keep a live session alive; a dead client's session (we always reconnect with a fresh
    # one) is dropped by the server after 2 minutes instead of asyncua's default hour.
    client.session_timeout = 120_000
    if sec is None:
        return client
    client.application_uri = sec.app_uri
    if sec.username is not None:
        client.set_user(sec.username)
        client.set_password(sec.password or "")
    if sec.mode == "None":
        return client
    policy = getattr(security_policies, f"SecurityPolicy{sec.policy}", None)
    if policy is None:
        raise SecurityError(f"unknown security policy {sec.policy!r}")
    mode = getattr(ua.MessageSecurityMode, sec.mode)
    try:
        endpoints = await client.connect_and_get_server_endpoints()
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise ConnectError(f"{url}: cannot read the server's endpoints: {_describe(exc)}") from exc
    try:
        ep = Client.find_endpoint(endpoints, mode, policy.URI)
    except ua.UaError:
        raise SecurityError(f"{url}: server offers no {sec.policy} {sec.mode} endpoint") from None
    der = ep.ServerCertificate
    if not der:
        raise UntrustedServerError(f"{url}: server presented no certificate; refusing a {sec.mode} session")
    cert_len = int.from_bytes(der[2:4], byteorder="big") + 4  # first cert of a chain
    server_cert = x509.load_der_x509_certificate(der[:cert_len])
    try:
        store = await _trust_store(sec.trusted_servers)
    except ValueError:  # asyncua refuses an empty trust list: nothing is trusted yet
        raise UntrustedServerError(_untrusted(url, sec, der[:cert_len], server_cert)) from None
    if not store.is_trusted(server_cert):
        raise UntrustedServerError(_untrusted(url, sec, der[:cert_len], server_cert))
    assert sec.certificate is not None and sec.private_key is not None
    await client.set_security(
        policy, str(sec.certificate), str(sec.private_key), server_certificate=der[:cert_len], mode=mode
    )
    client.certificate_validator = CertificateValidator(
        CertificateValidatorOptions.TRUSTED
        | CertificateValidatorOptions.TIME_RANGE
        | CertificateValidatorOptions.PEER_SERVER,
        store,
    )
    return client


def _untrusted(url: str, sec: ClientSecurity, der: bytes, cert: x509.Certificate) -> str:
    """The refusal of an untrusted server; its certificate is filed in ``rejected_dir`` for review."""
    subject = cert.subject.rfc4514_string()
    where = ", ".join(str(p) for p in sec.trusted_servers)
    if sec.rejected_dir is None:
        return (
            f"{url}: server certificate '{subject}' is not in the trust list ({where}); "
            "add it there if this server is genuine"
        )
    sec.rejected_dir.mkdir(parents=True, exist_ok=True)
    thumb = hashlib.sha1(der, usedforsecurity=False).hexdigest()
    (sec.rejected_dir / f"{thumb}.der").write_bytes(der)
    return (
        f"{url}: server certificate '{subject}' (thumbprint {thumb}) is not in the trust list ({where}); "
        f"kept in {sec.rejected_dir} for review: "
        f"`twin opcua trust add {thumb[:16]}` if this server is genuine"
    )


_AUTH_CODES = {
    ua.StatusCodes.BadUserAccessDenied,
    ua.StatusCodes.BadIdentityTokenInvalid,
    ua.StatusCodes.BadIdentityTokenRejected,
    ua.StatusCodes.BadUserSignatureInvalid,
}
_CERT_CODES = {
    ua.StatusCodes.BadCertificateUntrusted,
    ua.StatusCodes.BadCertificateInvalid,
    ua.StatusCodes.BadSecurityChecksFailed,
    ua.StatusCodes.BadCertificateUriInvalid,
    ua.StatusCodes.BadCertificateTimeInvalid,
    ua.StatusCodes.BadCertificateUseNotAllowed,
    ua.StatusCodes.BadSecurityPolicyRejected,
}


def translate_connect_error(url: str, exc: BaseException, sec: ClientSecurity | None = None) -> ConnectError:
    """One clear adapter error for a failed connect."""
    if isinstance(exc, ConnectError):
        return exc
    code = getattr(exc, "code", None)
    user = f" as user {sec.username!r}" if sec and sec.username else ""
    if code in _AUTH_CODES:
        return AuthenticationError(
            f"{url}: the server refused the login{user}: {_describe(exc)}; check the user name and password"
        )
    if code in _CERT_CODES:
        return SecurityError(
            f"{url}: secure channel refused: {_describe(exc)}; "
            "is this client's certificate in the server's trust list?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"{url}: connection refused (is the server running?)")
    if isinstance(exc, TimeoutError):
        return ConnectError(f"{url}: no answer within the timeout")
    return ConnectError(f"{url}: cannot connect: {_describe(exc)}")


# --------------------------------------------------------------------------- server side
#: Account roles: ``reader`` may browse, read and subscribe; ``writer`` (or ``user``) may also write and
#: call methods (plan.Load); ``admin`` may also change the address space.
ROLES = ("reader", "writer", "user", "admin")
_WRITE_TYPES = {
    ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary),
    ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary),
}


class PasswordUserManager:
    """Server-side accounts: user name -> (password, role); anything else (anonymous too) is refused."""

    def __init__(self, users: Mapping[str, tuple[str, str]]) -> None:
        bad = sorted({role for _pw, role in users.values()} - set(ROLES))
        if bad:
            raise SecurityError(f"unknown account role(s) {', '.join(bad)} (use one of {', '.join(ROLES)})")
        self.users = dict(users)

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        """The asyncua user-manager hook: None refuses the session."""
        if username is None:
            return None
        entry = self.users.get(username)
        if entry is None or entry[0] != password:
            return None
        return User(role=UserRole.Admin if entry[1] == "admin" else UserRole.User, name=username)


class AccountRuleset(PermissionRuleset):  # type: ignore[misc]
    """Which requests each account may send: readers cannot Write or Call (plans need a writer account)."""

    def __init__(self, users: Mapping[str, tuple[str, str]]) -> None:
        self.users = dict(users)
        user_ids = {ua.NodeId(t) for t in USER_TYPES}
        self._admin = user_ids | {ua.NodeId(t) for t in ADMIN_TYPES}
        self._writer = user_ids
        self._reader = user_ids - _WRITE_TYPES

    def check_validity(self, user: Any, action_type_id: Any, body: Any) -> bool:
        """The asyncua permission hook."""
        role = getattr(user, "role", None)
        if role == UserRole.Admin:
            return action_type_id in self._admin
        if role != UserRole.User:
            return False
        entry = self.users.get(getattr(user, "name", None) or "")
        if entry is not None and entry[1] == "reader":
            return action_type_id in self._reader
        return action_type_id in self._writer


@dataclass(frozen=True)
class ServerSecurity:
    """How a (simulated) PLC server secures itself."""

    #: Without a certificate the server offers only SecurityPolicy None (accounts still apply).
    certificate: Path | None = None
    private_key: Path | None = None
    #: Client certificates (directories or files) this server accepts; nothing else is trusted.
    trusted_clients: tuple[Path, ...] = ()
    modes: tuple[str, ...] = ("Sign", "SignAndEncrypt")
    allow_none: bool = False
    #: user name -> (password, role: see :data:`ROLES`); empty: anonymous logins allowed.
    users: Mapping[str, tuple[str, str]] = field(default_factory=dict)


async def apply_server_security(server: Server, sec: ServerSecurity) -> None:
    """Configure an (un-started) asyncua server: certificate, policies, client trust list, accounts."""
    policies: list[ua.SecurityPolicyType] = []
    if sec.certificate is None or sec.private_key is None:
        policies.append(ua.SecurityPolicyType.NoSecurity)
    else:
        await server.load_certificate(str(sec.certificate))
        await server.load_private_key(str(sec.private_key))
        if sec.allow_none:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        if "Sign" in sec.modes:
            policies.append(ua.SecurityPolicyType.Basic256Sha256_Sign)
        if "SignAndEncrypt" in sec.modes:
            policies.append(ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt)
    server.set_security_policy(policies, permission_ruleset=AccountRuleset(sec.users) if sec.users else None)
    if sec.trusted_clients:
        validator = CertificateValidator(
            CertificateValidatorOptions.TRUSTED
            | CertificateValidatorOptions.TIME_RANGE
            | CertificateValidatorOptions.PEER_CLIENT,
            await _trust_store(sec.trusted_clients),
        )
        server.set_certificate_validator(validator)
    if sec.users:
        server.iserver.user_manager = PasswordUserManager(sec.users)
        server.set_identity_tokens([ua.UserNameIdentityToken])

"""The adapter's OPC UA certificate store in a data directory: its own certificate (renewed before it
expires), the trusted server certificates, and rejected ones kept for review (OPC UA Part 12's layout).

```
<dir>/own/certs/client.der      the adapter's application certificate (old ones under own/certs/old/)
<dir>/own/private/client.pem    its private key (mode 0600)
<dir>/trusted/certs/*.der       server certificates the adapter trusts
<dir>/rejected/certs/*.der      server certificates it refused, kept until an operator trusts or deletes them
```

A server whose certificate is not trusted is refused and its certificate lands in ``rejected/``;
``twin opcua trust list`` shows it, ``twin opcua trust add THUMBPRINT`` trusts it (the next connect
succeeds), ``twin opcua trust reject`` moves a trusted one back, ``twin opcua trust remove`` deletes it.
Thumbprints are the SHA-1 of the DER certificate (what OPC UA uses), any unique prefix of 8+ hex digits
selects one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import inspect
import logging
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.opcua.errors import SecurityError
from adapters.opcua.security import CLIENT_APP_URI, CertPair, ClientSecurity

__all__ = [
    "RENEW_BEFORE",
    "VALID_FOR",
    "CertInfo",
    "PkiStore",
    "keep_renewed",
    "make_app_certificate",
    "thumbprint",
]

log = logging.getLogger(__name__)

#: A fresh client certificate is valid this long ...
VALID_FOR = dt.timedelta(days=365)
#: ... and is renewed when less than this (or half its lifetime, if shorter) is left.
RENEW_BEFORE = dt.timedelta(days=30)
_KINDS = ("trusted", "rejected")


@dataclass(frozen=True)
class CertInfo:
    """One certificate of the store, as ``twin opcua trust list`` shows it."""

    kind: str
    thumbprint: str
    subject: str
    not_after: dt.datetime
    path: Path

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"kind": self.kind, "thumbprint": self.thumbprint, "subject": self.subject,
                "not_after": self.not_after.isoformat(), "file": str(self.path)}  # fmt: skip


def thumbprint(der: bytes) -> str:
    """SHA-1 of a DER certificate, lower-case hex."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest()


def make_app_certificate(
    name: str, app_uri: str, valid_for: dt.timedelta, *, now: dt.datetime | None = None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed OPC UA client application certificate (RSA 2048, SHA-256; URI and host SANs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = now or dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    sans = [
        x509.UniformResourceIdentifier(app_uri),
        x509.DNSName(socket.gethostname()),
        x509.DNSName("localhost"),
    ]
    usage = x509.KeyUsage(True, True, True, True, False, True, False, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=1))
        .not_valid_after(start + valid_for)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(usage, critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


class PkiStore:
    """The certificate directories of one adapter installation (see the module docstring)."""

    def __init__(self, root: Path, *, app_uri: str = CLIENT_APP_URI, name: str = "sdf-twin-adapter") -> None:
        self.root = Path(root)
        self.app_uri = app_uri
        self.name = name
        self.cert_path = self.root / "own" / "certs" / "client.der"
        self.key_path = self.root / "own" / "private" / "client.pem"

    def dir(self, kind: str) -> Path:
        """``trusted/certs`` or ``rejected/certs`` (created)."""
        if kind not in _KINDS:
            raise SecurityError(f"unknown trust list {kind!r} (use trusted or rejected)")
        d = self.root / kind / "certs"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ----------------------------------------------------------------- own certificate
    def own_certificate(self) -> x509.Certificate | None:
        """The current client certificate, if there is one."""
        if not self.cert_path.exists():
            return None
        return x509.load_der_x509_certificate(self.cert_path.read_bytes())

    def needs_renewal(
        self, now: dt.datetime | None = None, renew_before: dt.timedelta = RENEW_BEFORE
    ) -> bool:
        """True when there is no certificate, or it expires within ``renew_before`` (or half its lifetime)."""
        cert = self.own_certificate()
        if cert is None or not self.key_path.exists():
            return True
        at = now or dt.datetime.now(dt.UTC)
        life = cert.not_valid_after_utc - cert.not_valid_before_utc
        return cert.not_valid_after_utc - at <= min(renew_before, life / 2)

    def ensure_certificate(
        self,
        *,
        valid_for: dt.timedelta = VALID_FOR,
        renew_before: dt.timedelta = RENEW_BEFORE,
        now: dt.datetime | None = None,
    ) -> bool:
        """Make or renew the client certificate when due; True if a new one was written.

        The old certificate is kept under ``own/certs/old/`` (servers that trusted it must trust the new
        one: `twin opcua trust list` prints its thumbprint).
        """
        if not self.needs_renewal(now, renew_before):
            return False
        old = self.own_certificate()
        cert, key = make_app_certificate(self.name, self.app_uri, valid_for, now=now)
        if old is not None:
            archive = self.cert_path.parent / "old"
            archive.mkdir(parents=True, exist_ok=True)
            der = old.public_bytes(serialization.Encoding.DER)
            (archive / f"{thumbprint(der)}.der").write_bytes(der)
        self.cert_path.parent.mkdir(parents=True, exist_ok=True)
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp_key, tmp_cert = self.key_path.with_suffix(".tmp"), self.cert_path.with_suffix(".tmp")
        tmp_key.write_bytes(pem)
        tmp_key.chmod(0o600)
        tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        tmp_key.replace(self.key_path)  # the key first: a reader never pairs a new cert with an old key
        tmp_cert.replace(self.cert_path)
        return True

    def client_security(
        self, mode: str, username: str | None = None, password: str | None = None
    ) -> ClientSecurity:
        """How an adapter connects with this store's certificate and trust lists (rejects kept here)."""
        return ClientSecurity(
            mode=mode,
            certificate=self.cert_path if mode != "None" else None,
            private_key=self.key_path if mode != "None" else None,
            app_uri=self.app_uri,
            trusted_servers=(self.dir("trusted"),) if mode != "None" else (),
            rejected_dir=self.dir("rejected"),
            username=username,
            password=password,
        )

    def own_pair(self) -> CertPair:
        """The client certificate and key files."""
        return CertPair(self.cert_path, self.key_path, self.app_uri)

    # ----------------------------------------------------------------- trust lists
    def entries(self, kind: str | None = None) -> list[CertInfo]:
        """The certificates of one list (or both), sorted by list and subject."""
        out: list[CertInfo] = []
        for k in (kind,) if kind else _KINDS:
            for path in sorted(self.dir(k).iterdir()):
                if path.suffix.lower() not in (".der", ".pem", ".crt"):
                    continue
                cert = _load(path)
                der = cert.public_bytes(serialization.Encoding.DER)
                out.append(
                    CertInfo(
                        k, thumbprint(der), cert.subject.rfc4514_string(), cert.not_valid_after_utc, path
                    )
                )
        return sorted(out, key=lambda c: (c.kind, c.subject, c.thumbprint))

    def find(self, thumb: str, kind: str | None = None) -> CertInfo:
        """The one certificate whose thumbprint starts with ``thumb`` (8+ hex digits)."""
        t = thumb.strip().lower().replace(":", "")
        if len(t) < 8 or any(ch not in "0123456789abcdef" for ch in t):
            raise SecurityError(
                f"{thumb!r} is not a thumbprint: give 8 or more hex digits (`twin opcua trust list`)"
            )
        hits = [c for c in self.entries(kind) if c.thumbprint.startswith(t)]
        where = f"the {kind} list" if kind else "the trusted or rejected list"
        if not hits:
            raise SecurityError(
                f"no certificate {thumb} in {where} ({self.root}): see `twin opcua trust list`"
            )
        if len(hits) > 1:
            raise SecurityError(
                f"thumbprint {thumb} is ambiguous ({len(hits)} certificates): give more digits"
            )
        return hits[0]

    def trust(self, source: str) -> CertInfo:
        """Trust a rejected certificate (by thumbprint) or a certificate file (DER or PEM)."""
        path = Path(source)
        if path.is_file():
            der = _load(path).public_bytes(serialization.Encoding.DER)
            (self.dir("rejected") / f"{thumbprint(der)}.der").unlink(missing_ok=True)
        else:
            found = self.find(source, "rejected")
            der = _load(found.path).public_bytes(serialization.Encoding.DER)
            found.path.unlink()
        target = self.dir("trusted") / f"{thumbprint(der)}.der"
        target.write_bytes(der)
        return self.find(thumbprint(der), "trusted")

    def reject(self, thumb: str) -> CertInfo:
        """Move a trusted certificate to the rejected list."""
        found = self.find(thumb, "trusted")
        target = self.dir("rejected") / found.path.name
        shutil.move(found.path, target)
        return self.find(found.thumbprint, "rejected")

    def remove(self, thumb: str) -> CertInfo:
        """Delete a certificate from whichever list holds it."""
        found = self.find(thumb)
        found.path.unlink()
        return found


async def keep_renewed(
    pki: PkiStore,
    on_renewed: Callable[[], Any],
    *,
    check_s: float = 3600.0,
    valid_for: dt.timedelta = VALID_FOR,
    renew_before: dt.timedelta = RENEW_BEFORE,
) -> None:
    """Check the client certificate every ``check_s`` and renew it when due, then call ``on_renewed``
    (the adapters reconnect with it). Runs until cancelled."""
    while True:
        if await asyncio.to_thread(pki.ensure_certificate, valid_for=valid_for, renew_before=renew_before):
            cert = pki.own_certificate()
            assert cert is not None
            der = cert.public_bytes(serialization.Encoding.DER)
            log.warning(
                "client certificate renewed (thumbprint %s, valid until %s): reconnecting with it; servers "
                "that trusted the old one must trust this one",
                thumbprint(der),
                cert.not_valid_after_utc.isoformat(),
            )
            done = on_renewed()
            if inspect.isawaitable(done):
                await done
        await asyncio.sleep(check_s)


def _load(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise SecurityError(f"{path}: not an X.509 certificate (DER or PEM): {exc}") from exc

"""Redis connection URLs: TLS files for ``rediss://`` (in the URL or given separately); credentials hidden.

redis-py reads ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile`` (and ``ssl_cert_reqs``,
``ssl_check_hostname``) from a URL's query. :func:`with_tls` puts files given as options there, so one URL
carries the whole connection to every part (and child process); :func:`check_tls_files` refuses a file
that cannot be read before any connection is tried, naming the parameter.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twin.errors import StoreAccessError

__all__ = ["TLS_PARAMS", "check_tls_files", "redact", "with_tls"]

#: URL query parameter -> what it holds (the CLI option that sets it).
TLS_PARAMS = {
    "ssl_ca_certs": "CA certificate(s) that signed the server's certificate, PEM (--redis-tls-ca)",
    "ssl_certfile": "client certificate, PEM (--redis-tls-cert)",
    "ssl_keyfile": "client private key, PEM (--redis-tls-key)",
}


def with_tls(url: str, ca: Path | None = None, cert: Path | None = None, key: Path | None = None) -> str:
    """``url`` with the given TLS files as query parameters (those already in the URL are replaced)."""
    files = {"ssl_ca_certs": ca, "ssl_certfile": cert, "ssl_keyfile": key}
    given = {k: v for k, v in files.items() if v is not None}
    if not given:
        return url
    parts = urlsplit(url)
    if not parts.scheme.startswith("rediss"):
        raise StoreAccessError(
            f"TLS files were given but the Redis URL is {parts.scheme}://: use rediss:// "
            "(or rediss+cluster://) to connect with TLS"
        )
    if ("ssl_certfile" in given) != ("ssl_keyfile" in given):
        raise StoreAccessError("a Redis client certificate needs its key: give --redis-tls-cert and -key")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in given]
    query += [(k, str(Path(v).resolve())) for k, v in given.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="/"), parts.fragment))


def check_tls_files(url: str) -> None:
    """Refuse (:class:`StoreAccessError`) a TLS file named in ``url`` that is missing or unreadable."""
    parts = urlsplit(url)
    for name, value in parse_qsl(parts.query):
        if name not in TLS_PARAMS:
            continue
        path = Path(value)
        try:
            path.read_bytes()
        except OSError as exc:
            raise StoreAccessError(
                f"Redis TLS: {name}={value}: cannot read the {TLS_PARAMS[name]}: {exc.strerror}"
            ) from exc
        if name != "ssl_keyfile" and b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
            raise StoreAccessError(f"Redis TLS: {name}={value} holds no PEM certificate ({TLS_PARAMS[name]})")
        if not parts.scheme.startswith("rediss"):
            raise StoreAccessError(
                f"{name} is set but the Redis URL is {parts.scheme}://: use rediss:// to connect with TLS"
            )


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    auth, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in auth:
        return url
    user = auth.split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:***@{hosts}", parts.path, parts.query, parts.fragment))

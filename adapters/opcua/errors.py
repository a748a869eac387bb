"""Errors of the OPC UA adapters; library errors (asyncua, OSError) are translated into these."""

from __future__ import annotations

from adapters.errors import AdapterError

__all__ = [
    "AdapterError",
    "AuthenticationError",
    "ConnectError",
    "MappingError",
    "SecurityError",
    "UntrustedServerError",
    "WriteBackDisabledError",
    "WriteBackError",
]


class MappingError(AdapterError):
    """A tag mapping cannot be built (bad NodeId syntax, unknown endpoint, no endpoint for a line)."""


class ConnectError(AdapterError):
    """An OPC UA endpoint could not be reached or the session could not be opened."""


class SecurityError(ConnectError):
    """The secure channel could not be established (policy, certificates)."""


class UntrustedServerError(SecurityError):
    """The server presented a certificate that is not in the client's trust list."""


class AuthenticationError(SecurityError):
    """The server refused the user identity (wrong user name or password, or an untrusted client cert)."""


class WriteBackError(AdapterError):
    """A plan could not be written to a PLC."""


class WriteBackDisabledError(WriteBackError):
    """Write-back is switched off by the global kill switch."""

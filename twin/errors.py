"""The twin's exception tree: every error a user can cause or meet derives from :class:`TwinError`."""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ConfigError",
    "EmbeddedRedisError",
    "NoFreePortError",
    "NotFoundError",
    "SchemaMismatchError",
    "StoreAccessError",
    "StoreError",
    "StoreUnavailableError",
    "TwinError",
    "ValidationError",
]


class TwinError(Exception):
    """Base of every error raised by the ``twin`` package; ``str()`` is one clear line for the user."""


class ConfigError(TwinError):
    """A plant definition is broken: names the file, the field path and the problem."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")


class StoreError(TwinError):
    """The Redis twin could not be read or written (connection lost, bad data)."""


class StoreUnavailableError(StoreError):
    """Redis is not reachable."""


class StoreAccessError(StoreError):
    """Redis refused this client for a reason retrying cannot fix: TLS, credentials or ACL permissions.

    Never retried or buffered: the message names what to fix (CA file, host name, user, permission).
    """


class SchemaMismatchError(StoreError):
    """Redis holds another plant definition or schema; loading needs an explicit migration."""


class NotFoundError(TwinError):
    """A piece of equipment, line, model or plan that was asked for does not exist."""


class ValidationError(TwinError):
    """A request (demand, plan, query) is malformed; nothing was changed."""


class EmbeddedRedisError(TwinError):
    """The embedded redis-server could not be started."""


class NoFreePortError(TwinError):
    """No free TCP port (or run of consecutive ports) was found for a server we start."""


class ArchiveError(TwinError):
    """The history archive could not be read or written (bad path, unreadable files, bad query range)."""

"""The adapters' exception tree: every error the OPC UA edge raises derives from :class:`AdapterError`.

``AdapterError`` is a :class:`twin.errors.TwinError`, so the CLI prints it as one clear line.
"""

from __future__ import annotations

from twin.errors import TwinError


class AdapterError(TwinError):
    """Base of every error raised by :mod:`adapters`."""

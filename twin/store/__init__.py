"""The only part of the twin that talks to Redis (see :mod:`twin.store.keys` for the key layout).

:class:`TwinStore` (sync) and :class:`AsyncTwinStore` (asyncio) issue the commands; what those commands
hold and how replies are read is written once for both (:mod:`~twin.store.encoding`,
:mod:`~twin.store.commands`), as is the translation of Redis errors (:mod:`~twin.store.errors`).
Stream ids are read and written by :mod:`~twin.store.streamids`.
"""

from twin.changes import Change
from twin.store.aio import AsyncTwinStore
from twin.store.commands import DEFAULT_STREAM_MAXLEN
from twin.store.errors import translate_errors
from twin.store.keys import SCHEMA_VERSION, Keys
from twin.store.plantdoc import plant_hash
from twin.store.sync import TwinStore

__all__ = [
    "DEFAULT_STREAM_MAXLEN",
    "SCHEMA_VERSION",
    "AsyncTwinStore",
    "Change",
    "Keys",
    "TwinStore",
    "plant_hash",
    "translate_errors",
]

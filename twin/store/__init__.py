"""The only part of the twin that talks to Redis (see :mod:`twin.store.keys` for the key layout)."""

from twin.store.aio import AsyncTwinStore
from twin.store.keys import SCHEMA_VERSION, Change, Keys
from twin.store.sync import DEFAULT_STREAM_MAXLEN, TwinStore, plant_hash, translate_errors

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

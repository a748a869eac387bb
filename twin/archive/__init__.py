"""The history archive: a follower of the change stream writing partitioned Parquet, and DuckDB queries
(history of a tag, KPIs per shift, day or hour) over those files. It imports no store: the follower is
handed a source (the store), the queries only read files. Layout and guarantees: :mod:`twin.archive.layout`,
:mod:`twin.archive.checkpoint`; docs/history.md for the figures.
"""

from twin.archive.follower import ArchiveSource, Follower, FollowerOptions, FollowerStats
from twin.archive.layout import ArchiveFs
from twin.archive.maintenance import MaintenanceOptions

__all__ = [
    "ArchiveFs",
    "ArchiveSource",
    "Follower",
    "FollowerOptions",
    "FollowerStats",
    "MaintenanceOptions",
]

"""The twin store's own suite (``tests/twin/test_store.py``), collected again here so that every test and
every assertion in it runs on both backends: the ``redis_url`` fixture of this package is parametrized over
a single redis-server and a 3-master Redis Cluster. New tests added there run on the cluster automatically.
"""

from tests.twin.test_store import *  # noqa: F403

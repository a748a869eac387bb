"""OPC UA adapters: mirror PLC state into the Redis twin, and write plans back.

- :mod:`~adapters.opcua.mapping`: twin tags -> nodes (NodeIds by namespace URI, browse paths), validated
  per server; problems reported by name (``equipment.tag -> node: problem``), never fatal for the rest.
- :mod:`~adapters.opcua.ingest`: a subscription whose publish callback takes whole publish results
  (no task per notification), coalescing per tag, one Redis write per cycle; counters.
- :mod:`~adapters.opcua.fastpath`: a direct decoder for data-change publish responses (asyncua's otherwise).
- :mod:`~adapters.opcua.session`: one endpoint's adapter: watchdog, stale marks, reconnect with backoff,
  resubscribe and re-sync on a fresh client.
- :mod:`~adapters.opcua.runner`: all endpoints of a plant or of a shard (``twin adapt --shard I/N``).
- :mod:`~adapters.opcua.security`: Basic256Sha256 Sign/SignAndEncrypt, trust lists, accounts (both ends).
- :mod:`~adapters.opcua.writeback`: plans to PLCs via ``plan.Load``: kill switch, audit, write account.
- :mod:`~benchmarks.loadserver`: a fast OPC UA server offering every tag changed every publishing
  interval (the ingest bench's overload source).
- :mod:`~benchmarks.ingest`: ``twin bench ingest``; :mod:`~benchmarks.tagserver` and
  :mod:`~tests.support.python_opcua_server`: small real servers for tests (asyncua, python-opcua).

Submodules are imported explicitly (this package does not import asyncua by itself).
"""

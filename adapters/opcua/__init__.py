"""OPC UA adapters: mirror PLC state into the Redis twin, and write plans back.

- :mod:`~adapters.opcua.mapping`: twin tags -> nodes (NodeIds by namespace URI, browse paths);
  :mod:`~adapters.opcua.resolve` validates them per server, problems reported by name
  (``equipment.tag -> node: problem``), never fatal for the rest; the adapter records them in the twin.
- :mod:`~adapters.opcua.ingest`: a subscription whose publish callback takes whole publish results
  (no task per notification), coalescing per tag, one Redis write per cycle; counters.
- :mod:`~adapters.opcua.fastpath`: a direct decoder for data-change publish responses (asyncua's otherwise).
- :mod:`~adapters.opcua.session`: one endpoint's adapter: watchdog, stale marks, reconnect with backoff,
  resubscribe and re-sync on a fresh client.
- :mod:`~adapters.opcua.runner`: all endpoints of a plant or of a shard (``twin adapt --shard I/N``).
- :mod:`~adapters.opcua.security`: Basic256Sha256 Sign/SignAndEncrypt, trust lists, accounts (both ends).
- :mod:`~adapters.opcua.writeback`: plans to PLCs via ``plan.Load``: kill switch, audit, write account.
- :mod:`~adapters.opcua.buffer`: a bounded outage buffer in front of the store while Redis is down.
- :mod:`~adapters.opcua.errors`: the adapters' errors; asyncua and OS errors are translated into these.
- :mod:`~adapters.opcua.variants`: the OPC UA type and initial value of each twin tag type, for every
  server we build (:mod:`adapters.simulator`, and the servers under ``benchmarks/`` and ``tests/support/``).

No test or load server ships here: the ingest bench and its servers are in :mod:`benchmarks`
(``ingest``, ``loadserver``, ``tagserver``), the tests' PLC servers in ``tests/support/``.

Submodules are imported explicitly (this package does not import asyncua by itself).
"""

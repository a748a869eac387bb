"""Change-stream payloads -> the archive's ``changes`` rows, parsed in DuckDB (C++), not per value in Python.

A payload is the JSON list of ``[equipment, tag, value, quality, source_ts]`` that :mod:`twin.store.encoding`
writes. Python only lays the entries out as four columns (stream id, source, payload); DuckDB parses every
payload once (``json_transform`` to a list of JSON lists), takes the fields apart and classifies each value
(see :mod:`twin.archive.schema` for ``kind`` / ``num`` / ``text``). That is several times cheaper per change
than ``json.loads`` and building Arrow columns from Python objects, which matters because the follower runs
beside the adapters on the same cores (``archive_cpu_us_per_change`` in ``twin bench history``).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from twin.archive.schema import CHANGE_SCHEMA, RawEntry

__all__ = ["PayloadDecoder"]

_SQL = """
WITH e AS (
  SELECT entry_ms, entry_seq, src,
         unnest(list_transform(json_transform(d, '[["JSON"]]'), lambda x, i: {
           'pos': i - 1, 'eq': x[1], 'tag': x[2], 'v': x[3], 'q': x[4], 'ts': x[5]::DOUBLE
         }), recursive := true)
  FROM raw
), t AS (SELECT *, json_type(v) AS vt FROM e)
SELECT entry_ms, entry_seq, pos::INTEGER AS pos, src,
       json_extract_string(eq, '$') AS equipment, json_extract_string(tag, '$') AS tag,
       round(ts * 1e6)::BIGINT AS ts_us, json_extract_string(q, '$') AS quality,
       (CASE WHEN vt IS NULL OR vt = 'NULL' THEN 0 WHEN vt = 'BOOLEAN' THEN 1
             WHEN vt IN ('UBIGINT', 'BIGINT') THEN 2 WHEN vt IN ('DOUBLE', 'HUGEINT') THEN 3
             WHEN vt = 'VARCHAR' THEN 4 ELSE 5 END)::TINYINT AS kind,
       CASE WHEN vt = 'BOOLEAN' THEN (v::VARCHAR = 'true')::DOUBLE
            WHEN vt IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT') THEN v::VARCHAR::DOUBLE END AS num,
       CASE WHEN vt = 'VARCHAR' THEN json_extract_string(v, '$')
            WHEN vt IN ('ARRAY', 'OBJECT') THEN v::VARCHAR END AS text
FROM t
"""


class PayloadDecoder:
    """Decodes batches of change-stream entries on one private single-threaded DuckDB connection."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET threads = 1")  # the follower is a background job: one core at most

    def table(self, entries: Sequence[RawEntry]) -> pa.Table:
        """The ``changes`` rows of ``entries`` (stream order), with :data:`CHANGE_SCHEMA`."""
        ms: list[int] = []
        seq: list[int] = []
        for sid, _src, _p in entries:
            m, _, s = sid.partition("-")
            ms.append(int(m))
            seq.append(int(s or 0))
        raw = pa.table(
            {
                "entry_ms": pa.array(ms, pa.int64()),
                "entry_seq": pa.array(seq, pa.int32()),
                "src": pa.array([e[1] for e in entries], pa.string()),
                "d": pa.array([e[2] for e in entries], pa.string()),
            }
        )
        self.con.register("raw", raw)
        try:
            out = self.con.sql(_SQL).to_arrow_table()
        finally:
            self.con.unregister("raw")
        if out.num_rows == 0:
            return CHANGE_SCHEMA.empty_table()
        return out.cast(CHANGE_SCHEMA)

    def close(self) -> None:
        """Release the connection."""
        self.con.close()

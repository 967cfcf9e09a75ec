"""Clean-transport ratio: the Ibis expression vs a hand-written DuckDB query (baseline).

Usage: .venv/bin/python benchmarks/bench_transport.py [ROWS]

Generates ROWS gate records (default 2,000,000) for 2,000 enterprises over three months in
an in-memory DuckDB, then times `clean_transport_month` (compiled by Ibis, executed to
Arrow) and the same aggregation written directly in SQL, median of 5 runs each, and checks
that both give the same rows.
"""

from __future__ import annotations

import statistics
import sys
import time

import duckdb
import ibis

from lantian.ledger.transport import clean_transport_month
from lantian.store.db import migrate

BASELINE = """
SELECT e.name AS enterprise, sum(CASE WHEN mode IN ('rail','water','pipe','belt') THEN tonnes END)
       AS clean, sum(CASE WHEN mode = 'road' THEN tonnes END) AS road,
       count(*) FILTER (WHERE mode = 'road' AND coalesce(emission_stage, '')
                        NOT IN ('China VI', 'NEV')) AS bad
FROM gate_record g JOIN enterprise e ON e.id = g.enterprise_id
WHERE ts >= TIMESTAMP '2025-06-01' AND ts < TIMESTAMP '2025-07-01'
GROUP BY ALL ORDER BY 1
"""


def main(rows: int) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    migrate(con)
    con.execute("INSERT INTO enterprise (id, name) SELECT i, 'E' || i FROM range(1, 2001) r(i)")
    con.execute(f"""
        INSERT INTO gate_record (enterprise_id, ts, plate, direction, mode, tonnes,
                                 emission_stage)
        SELECT 1 + (i % 2000), TIMESTAMP '2025-05-01' + to_seconds((i * 7919) % 7862400),
               NULL, 'in', ['road','rail','belt','water','pipe'][1 + (i % 5)],
               (10 + (i % 40))::DECIMAL(18, 3),
               ['China V','China VI','NEV', NULL][1 + (i % 4)]
        FROM range({rows}) r(i)""")
    ib = ibis.duckdb.from_connection(con)
    expr = clean_transport_month(ib.table("gate_record"), ib.table("enterprise"), "2025-06")

    def run_ibis() -> int:
        return expr.to_pyarrow().num_rows

    def run_sql() -> int:
        return len(con.execute(BASELINE).fetchall())

    assert run_ibis() == run_sql()
    t_ibis, t_sql = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        run_ibis()
        t_ibis.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_sql()
        t_sql.append(time.perf_counter() - t0)
    mi, ms = statistics.median(t_ibis), statistics.median(t_sql)
    print(f"rows={rows} ibis_median_s={mi:.3f} sql_median_s={ms:.3f} ratio={mi / ms:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)

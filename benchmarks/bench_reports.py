"""Time the monthly report against the engine assessment it is built on.

One enterprise with ``--points`` monitoring points, a full month (October 2026, CST) of minute
data each (so2, nox, o2, flow; 44,640 rows a point). Cases, each run ``--repeat`` times,
median reported:

* ``assess`` (baseline): ``assess_month`` of the month for every point, executed (DuckDB);
* ``gather``: :func:`lantian.reports.monthly.gather_monthly` (engine verdicts per point,
  counts, exceedance list, daily series, quality, transport, retrofit);
* ``pdf``: HTML rendering and WeasyPrint PDF of the gathered report;
* ``ledgers``: :func:`lantian.reports.excel.ledger_rows` + ``write_ledgers``.

Run by hand: ``.venv/bin/python benchmarks/bench_reports.py [--points 3] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lantian.engine.assess import assess_month
from lantian.reports.excel import ledger_rows, write_ledgers
from lantian.reports.monthly import gather_monthly, ibis_backend, render_html, render_pdf
from lantian.store.db import connect


def build(path: Path, points: int) -> None:
    con = connect(path)
    eid = con.execute("INSERT INTO enterprise (name, sector, district_code) VALUES "
                      "('基准测试水泥有限公司', 'cement', '430102') RETURNING id").fetchall()[0][0]
    rng = np.random.default_rng(1)
    ts = pd.date_range("2026-10-01", "2026-10-31 23:59", freq="min")
    for i in range(points):
        oid = con.execute("INSERT INTO outlet (enterprise_id, name, source_type, jurisdiction) "
                          "VALUES (?, ?, 'cement_kiln', 'CN-43') RETURNING id",
                          [eid, f"{i + 1}号窑尾"]).fetchall()[0][0]
        mn = f"MNBENCH{i:08d}"
        con.execute("INSERT INTO monitoring_point (mn, password, outlet_id, source_type, "
                    "protocol) VALUES (?, 'pw', ?, 'cement_kiln', '2017')", [mn, oid])
        n = len(ts)
        frame = pd.DataFrame({  # noqa: F841 - read by DuckDB
            "mn": mn, "ts": ts, "packet_id": np.arange(n),
            "so2_mg_m3": rng.normal(25, 5, n), "so2_flag": "N",
            "nox_mg_m3": rng.normal(35, 7, n), "nox_flag": "N",
            "o2_pct": rng.normal(10, 0.5, n), "o2_flag": "N",
            "flow_m3_s": rng.normal(50, 2, n), "flow_flag": "N"})
        con.execute("INSERT INTO flue_minute BY NAME SELECT * FROM frame")
    con.close()


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    db = d / "b.duckdb"
    build(db, a.points)
    con = connect(db)
    month = "2026-10"
    base = timed(lambda: assess_month(ibis_backend(con), month).execute(), a.repeat)
    gather = timed(lambda: gather_monthly(con, month, 1), a.repeat)
    rep = gather_monthly(con, month, 1)
    pdf = timed(lambda: render_pdf(render_html(rep), d / "r.pdf"), a.repeat)
    ledgers = timed(lambda: write_ledgers(ledger_rows(con, month), d / "l.xlsx"), a.repeat)
    con.close()
    print(f"points={a.points} minute rows={a.points * 44640} repeat={a.repeat}")
    for name, v in (("assess (baseline)", base), ("gather", gather), ("pdf", pdf),
                    ("ledgers", ledgers)):
        print(f"{name:18} {v:8.2f} s   {v / base:5.2f}x baseline")


if __name__ == "__main__":
    main()

"""Agreement rules at their edges (issue 9): a halt window across the year end for one line
only, an agreement that has expired, and an electric furnace with exactly two rest days.

Evidence is power use (kWh per line and hour, CST; running when > idle 50 kW × 1 h).
Agreements of 辛铸造:

- 1号冲天炉 halted 12-15…02-28 (wraps the year end), valid 2025-01-01…2026-12-31;
- 2号电炉 two rest days a month;
- the whole plant at most 12 h a day until 2025-06-30 (expired after).
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from lantian.ledger.production_control import (
    agreement_violations,
    load_agreements,
    operating_evidence,
)
from lantian.store.db import connect

AGREEMENTS = (
    "enterprise,line,rule,value,from_md,to_md,valid_from,valid_to,source\n"
    "辛铸造,1号冲天炉,halt_window,,12-15,02-28,2025-01-01,2026-12-31,采暖季停产方案\n"
    "辛铸造,2号电炉,rest_days_per_month,2,,,2025-01-01,,错峰生产协议\n"
    "辛铸造,,max_hours_per_day,12,,,2025-01-01,2025-06-30,错峰生产协议(2025上半年)\n"
)


@pytest.fixture
def con(db_path: Path, tmp_path: Path):
    c = connect(db_path)
    c.execute("INSERT INTO enterprise (id, name, sector) VALUES (700, '辛铸造', 'foundry')")
    c.execute("INSERT INTO production_line (id, enterprise_id, name, kind, idle_kw) VALUES"
              " (71, 700, '1号冲天炉', 'cupola', 50), (72, 700, '2号电炉', 'electric', 50)")
    f = tmp_path / "agreements.csv"
    f.write_text(AGREEMENTS, encoding="utf-8")
    assert load_agreements(c, f) == 3
    yield c
    c.close()


def _power(con, line: str, start: str, hours: int, kwh: float = 900) -> None:
    con.execute("INSERT INTO power_reading SELECT 700, ?, ?::TIMESTAMP + to_hours(h), ?"
                " FROM range(?) r(h)", [line, start, kwh, hours])


def _violations(con) -> list[tuple]:
    ib = ibis.duckdb.from_connection(con)
    rows = agreement_violations(operating_evidence(ib), ib.table("production_agreement"))
    return [(r["line"], r["rule"], r["period"], r["running_hours"])
            for r in rows.to_pyarrow().to_pylist()]


def test_halt_window_across_the_year_end_for_one_line(con) -> None:
    _power(con, "1号冲天炉", "2025-12-14 22:00:00", 4)  # 12-14 22:00 .. 12-15 01:59
    _power(con, "1号冲天炉", "2026-02-28 23:00:00", 2)  # 02-28 23:00 .. 03-01 00:59
    _power(con, "1号冲天炉", "2026-01-05 08:00:00", 3)  # inside, after the year end
    _power(con, "2号电炉", "2026-01-05 08:00:00", 3)  # the halt is 1号冲天炉's only
    got = [v for v in _violations(con) if v[1] == "halt_window"]
    assert got == [("1号冲天炉", "halt_window", "2025-12-15", 2),
                   ("1号冲天炉", "halt_window", "2026-01-05", 3),
                   ("1号冲天炉", "halt_window", "2026-02-28", 1)]


def test_expired_agreement_no_longer_applies(con) -> None:
    _power(con, "1号冲天炉", "2025-06-30 06:00:00", 13)  # 13 h on the last valid day
    _power(con, "1号冲天炉", "2025-07-01 06:00:00", 13)  # 13 h after expiry: allowed
    got = [v for v in _violations(con) if v[1] == "max_hours_per_day"]
    assert got == [("1号冲天炉", "max_hours_per_day", "2025-06-30", 13)]


def test_electric_furnace_exactly_two_rest_days(con) -> None:
    # February 2026 has 28 days: runs 26 of them (idle on the 8th and the 22nd) → compliant;
    # March: idle on the 8th only → 1 rest day < 2
    for month, days, rest in (("2026-02", 28, (8, 22)), ("2026-03", 31, (8,))):
        for d in range(1, days + 1):
            kwh = 10 if d in rest else 900
            _power(con, "2号电炉", f"{month}-{d:02d} 00:00:00", 24, kwh)
    got = [v for v in _violations(con) if v[1] == "rest_days_per_month"]
    assert got == [("2号电炉", "rest_days_per_month", "2026-03", 30 * 24)]

"""Working-day deadlines across holidays and make-up days (issue 8)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantian.errors import InputFileError
from lantian.ledger.workdays import (
    Calendar,
    CalendarFallbackWarning,
    add_working_days,
    is_workday,
    load_holiday_notice,
)
from lantian.store.db import connect

D = dt.date


def test_fifteen_working_days_across_national_day_2025() -> None:
    # Listed Fri 2025-09-26. Sun 09-28 and Sat 10-11 are make-up working days (调休上班);
    # 10-01..10-08 are the National Day / Mid-Autumn holiday. Counting by hand:
    # 09-28(1) 09-29(2) 09-30(3) 10-09(4) 10-10(5) 10-11(6) 10-13(7) 10-14(8) 10-15(9)
    # 10-16(10) 10-17(11) 10-20(12) 10-21(13) 10-22(14) 10-23(15)
    assert add_working_days(D(2025, 9, 26), 15) == D(2025, 10, 23)
    # plain Mon-Fri counting would have said 10-17: the holiday calendar matters
    assert is_workday(D(2025, 9, 28)) and not is_workday(D(2025, 10, 1))
    assert add_working_days(D(2025, 9, 26), 1) == D(2025, 9, 28)


def test_fallback_to_weekdays_warns_once_per_year() -> None:
    cal = Calendar()
    with pytest.warns(CalendarFallbackWarning, match="2031"):
        # Fri 2031-01-03 + 3 working days = Mon 01-06, Tue 01-07, Wed 01-08
        assert cal.add_working_days(D(2031, 1, 3), 3) == D(2031, 1, 8)


def test_loaded_notice_overrides_and_is_all_or_nothing(tmp_path: Path, db_path: Path) -> None:
    notice = tmp_path / "holidays_2031.csv"
    notice.write_text(
        "day,kind,name,source\n"
        "2031-01-01,holiday,元旦,国办发明电〔2030〕x号 (test notice)\n"
        "2031-01-06,holiday,test day off,国办发明电〔2030〕x号 (test notice)\n"
        "2031-01-04,workday,test make-up day,国办发明电〔2030〕x号 (test notice)\n",
        encoding="utf-8",
    )
    con = connect(db_path)
    assert load_holiday_notice(con, notice, "admin") == 3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loaded year must not fall back
        # Fri 01-03 + 3: Sat 01-04 (make-up) 1, Mon 01-06 off, Tue 01-07 2, Wed 01-08 3
        assert add_working_days(D(2031, 1, 3), 3, con) == D(2031, 1, 8)
        assert add_working_days(D(2031, 1, 3), 1, con) == D(2031, 1, 4)
        assert not is_workday(D(2031, 1, 1), con)
    bad = tmp_path / "bad.csv"
    bad.write_text("day,kind,name,source\n2031-02-01,holiday,x,src\n2031-02-30,holiday,y,src\n",
                   encoding="utf-8")
    with pytest.raises(InputFileError, match="row 3 column day"):
        load_holiday_notice(con, bad, "admin")
    assert con.execute("SELECT count(*) FROM holiday_notice").fetchone() == (3,)
    assert con.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'load_holiday_notice'"
    ).fetchone() == (1,)
    con.close()


def test_cli_load_holidays(tmp_path: Path, db_path: Path) -> None:
    from lantian.cli import app

    notice = tmp_path / "n.csv"
    notice.write_text("day,kind,name,source\n2032-01-01,holiday,元旦,test\n", encoding="utf-8")
    res = CliRunner().invoke(
        app, ["ledger", "load-holidays", str(notice), "--db", str(db_path), "--who", "admin"]
    )
    assert res.exit_code == 0, res.stderr
    con = connect(db_path)
    assert con.execute("SELECT day, kind FROM holiday_notice").fetchall() == [
        (D(2032, 1, 1), "holiday")
    ]
    con.close()

"""Working days (工作日) in mainland China: weekends, statutory holidays and make-up days.

The source of truth, in order:

1. official holiday notices an administrator loaded into the ``holiday_notice`` table
   (one row per day, ``kind`` = ``holiday`` or ``workday``), or bundled as
   ``catalog/data/holidays_YYYY.csv`` (columns ``day,kind,name,source``);
2. the maintained ``chinesecalendar`` library (国务院办公厅 holiday notices, 2004 onward);
3. where neither has the year: plain weekdays (Mon–Fri), with a
   :class:`CalendarFallbackWarning` naming the year, so nobody mistakes the result for an
   official count.

Dates are calendar days in China Standard Time.
"""

from __future__ import annotations

import csv
import datetime as dt
import warnings
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import chinese_calendar
import duckdb

from lantian.errors import InputFileError
from lantian.ledger._data import transaction

__all__ = [
    "Calendar",
    "CalendarFallbackWarning",
    "add_working_days",
    "is_workday",
    "load_holiday_notice",
    "read_holiday_notice",
]

_KINDS = {"holiday": False, "workday": True, "假": False, "休": False, "班": True}


class CalendarFallbackWarning(UserWarning):
    """No holiday data for a year: working days were counted as plain weekdays."""


def read_holiday_notice(path: str | Path) -> list[tuple[dt.date, str, str, str]]:
    """Read an official holiday notice as data: CSV ``day,kind,name,source``.

    ``kind`` is ``holiday`` (a day off, including weekdays moved into a holiday) or
    ``workday`` (a weekend day worked as make-up, 调休上班). Returns ``(day, kind, name,
    source)`` tuples.

    Raises
    ------
    InputFileError
        Naming the row and column of the first bad value.

    """
    path = Path(path)
    rows: list[tuple[dt.date, str, str, str]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"day", "kind", "source"} - set(reader.fieldnames or [])
        if missing:
            raise InputFileError(f"{path.name}: missing column(s) {sorted(missing)}")
        for i, row in enumerate(reader, start=2):
            try:
                day = dt.date.fromisoformat((row["day"] or "").strip())
            except ValueError as exc:
                raise InputFileError(f"{path.name} row {i} column day: bad date") from exc
            kind = (row["kind"] or "").strip()
            if kind not in ("holiday", "workday"):
                raise InputFileError(
                    f"{path.name} row {i} column kind: {kind!r} is not holiday or workday"
                )
            source = (row["source"] or "").strip()
            if not source:
                raise InputFileError(f"{path.name} row {i} column source: empty")
            rows.append((day, kind, (row.get("name") or "").strip(), source))
    return rows


def load_holiday_notice(con: duckdb.DuckDBPyConnection, path: str | Path, who: str) -> int:
    """Store an official holiday notice (see :func:`read_holiday_notice`); return rows stored.

    All rows or none: a bad row raises before anything is written. A day already loaded is
    replaced by the new notice.
    """
    rows = read_holiday_notice(path)
    with transaction(con):
        for day, kind, name, source in rows:
            con.execute("DELETE FROM holiday_notice WHERE day = ?", [day])
            con.execute(
                "INSERT INTO holiday_notice (day, kind, name, source, loaded_by)"
                " VALUES (?, ?, ?, ?, ?)",
                [day, kind, name, source, who],
            )
        con.execute(
            "INSERT INTO audit_log (who, action, target, detail) VALUES (?, ?, ?, ?)",
            [who, "load_holiday_notice", Path(path).name, f"{len(rows)} days"],
        )
    return len(rows)


class Calendar:
    """Working-day calendar: loaded notices first, then ``chinesecalendar``, then weekdays."""

    def __init__(self, notices: Iterable[tuple[dt.date, str]] = ()) -> None:
        self._notice: dict[dt.date, bool] = {}
        self._notice_years: set[int] = set()
        for day, kind in self._bundled():
            self._add(day, kind)
        for day, kind in notices:
            self._add(day, kind)
        self._warned: set[int] = set()

    @property
    def fallback_years(self) -> frozenset[int]:
        """Years for which plain weekdays were used so far (no holiday data)."""
        return frozenset(self._warned)

    @classmethod
    def from_db(cls, con: duckdb.DuckDBPyConnection | None) -> Calendar:
        """Return the calendar with every notice stored in ``con`` (bundled files only if None)."""
        if con is None:
            return cls()
        rows = con.execute("SELECT day, kind FROM holiday_notice").fetchall()
        return cls((r[0], r[1]) for r in rows)

    def _add(self, day: dt.date, kind: str) -> None:
        self._notice[day] = _KINDS[kind]
        self._notice_years.add(day.year)

    @staticmethod
    def _bundled() -> list[tuple[dt.date, str]]:
        root = resources.files("lantian.catalog").joinpath("data")
        out: list[tuple[dt.date, str]] = []
        for entry in root.iterdir():
            if entry.name.startswith("holidays_") and entry.name.endswith(".csv"):
                for row in csv.DictReader(entry.read_text("utf-8").splitlines()):
                    out.append((dt.date.fromisoformat(row["day"].strip()), row["kind"].strip()))
        return out

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (make-up weekend days count, holidays do not)."""
        if day in self._notice:
            return self._notice[day]
        if day.year in self._notice_years:
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                warnings.warn(
                    f"no holiday data for {day.year}: counting Monday–Friday as working days "
                    f"(load the official notice with `lantian ledger load-holidays`) / "
                    f"{day.year}年无节假日数据，按周一至周五计算工作日",
                    CalendarFallbackWarning,
                    stacklevel=3,
                )
            return day.weekday() < 5

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """Return the ``n``-th working day after ``start`` (``start`` itself not counted), n ≥ 1."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, left = start, n
        while left:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day


def is_workday(day: dt.date, con: duckdb.DuckDBPyConnection | None = None) -> bool:
    """Whether ``day`` is a working day, using notices stored in ``con`` if given."""
    return Calendar.from_db(con).is_workday(day)


def add_working_days(
    start: dt.date, n: int, con: duckdb.DuckDBPyConnection | None = None
) -> dt.date:
    """Return the deadline ``n`` working days after ``start`` (e.g. permit change within 15 days).

    Parameters
    ----------
    start : date
        Day of the triggering event (not counted), CST calendar day.
    n : int
        Working days allowed [d].
    con : DuckDB connection, optional
        Where loaded holiday notices are read from.

    Returns
    -------
    date
        The last day on which the action is still in time.

    """
    return Calendar.from_db(con).add_working_days(start, n)

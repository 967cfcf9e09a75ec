"""Quarterly data-capture rate (季度有效数据捕集率) periods for HJ 75-2017 substitution.

HJ 75-2017 chooses the substitution table of an invalid period by the **quarterly** valid-data
capture rate α (reference notes §1.2). For a month the platform reports α *quarter to date*:
over the production hours from the first hour of the calendar quarter (1 Jan, 1 Apr, 1 Jul,
1 Oct, 00:00 CST) to the end of the month assessed. The formula (recalled, [U] in the notes)
is implemented in :func:`lantian.engine.substitution.capture_rate`::

    α = valid production hours / production hours

The substitute value of an hour is the maximum load over up to 2160 *valid hours before the
failure*; those hours can lie before the quarter, so the hours read for substitution start
``lookback`` months before the quarter (:func:`load_span`).
"""

from __future__ import annotations

import datetime as dt

from lantian.engine.backends import month_bounds

__all__ = ["load_span", "months_between", "quarter_start"]


def quarter_start(month: str) -> str:
    """First month (``YYYY-MM``) of the calendar quarter of ``month``.

    >>> quarter_start("2024-05")
    '2024-04'
    """
    start, _ = month_bounds(month)
    q_month = (start.month - 1) // 3 * 3 + 1
    return f"{start.year:04d}-{q_month:02d}"


def _shift(month: str, n: int) -> str:
    start, _ = month_bounds(month)
    i = start.year * 12 + start.month - 1 + n
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Months ``first`` … ``last`` inclusive (``YYYY-MM``); empty when ``first > last``."""
    out = []
    m = first
    while m <= last:
        out.append(m)
        m = _shift(m, 1)
    return out


def load_span(month: str, lookback: int = 3) -> tuple[list[str], dt.datetime]:
    """Months whose hours the loads of ``month`` need, and the capture-rate start.

    Returns ``(months, capture_from)``: the ``lookback`` months before the quarter of
    ``month``, the quarter's months up to ``month``; and the first hour of the quarter
    (CST), from which α is counted.

    >>> load_span("2024-05", lookback=1)
    (['2024-03', '2024-04', '2024-05'], datetime.datetime(2024, 4, 1, 0, 0))
    """
    q = quarter_start(month)
    return months_between(_shift(q, -lookback), month), month_bounds(q)[0]

"""Times of the store: China Standard Time now, HJ 212 ``DataTime`` text, Arrow timestamps.

All times are China Standard Time (CST, 北京时间) wall-clock, kept as naive values, as the
data loggers send them (HJ 212-2017 §6.6: ``DataTime`` labels the start of its period).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

__all__ = ["CST", "cst_now", "parse_cached", "parse_data_time", "timestamps"]

CST = ZoneInfo("Asia/Shanghai")


def cst_now() -> dt.datetime:
    """Return the current China Standard Time wall-clock time (naive, second precision ok)."""
    return dt.datetime.now(CST).replace(tzinfo=None)


def parse_data_time(text: str) -> dt.datetime:
    """Parse an HJ 212 ``YYYYMMDDhhmmss`` time (CST wall-clock) into a naive datetime.

    Raises
    ------
    ValueError
        When ``text`` is not 14 digits forming a valid date and time.

    """
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"DataTime {text!r} is not YYYYMMDDhhmmss")
    try:
        return dt.datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
        )
    except ValueError as exc:
        raise ValueError(f"DataTime {text!r} is not a valid time: {exc}") from None


parse_cached = functools.lru_cache(maxsize=1 << 16)(parse_data_time)
""":func:`parse_data_time` with each distinct text parsed once (many loggers send the same
minute)."""


def timestamps(values: Sequence[dt.datetime | None]) -> pa.Array:
    """Arrow ``timestamp[us]`` array of naive CST datetimes; each distinct value converted once."""
    distinct = dict.fromkeys(values)
    if len(distinct) * 4 > len(values):
        return pa.array(values, pa.timestamp("us"))
    table = pa.array(list(distinct), pa.timestamp("us"))
    index = {v: i for i, v in enumerate(distinct)}
    return table.take(pa.array(np.fromiter(map(index.__getitem__, values), dtype=np.int64,
                                           count=len(values))))

"""HJ 212 time fields: ``YYYYMMDDhhmmss`` (DataTime, SystemTime, …) and ``…zzz`` (QN).

All HJ 212 times are China Standard Time wall clock as the device writes them; Lantian keeps
them naive (no zone attached) and says CST wherever it shows them.
"""

from __future__ import annotations

from datetime import datetime

from lantian.errors import FieldIssue, PacketError

__all__ = ["data_time_to_datetime", "datetime_to_data_time", "is_data_time", "qn_from_datetime"]


def is_data_time(s: str) -> bool:
    """Whether ``s`` is a valid ``YYYYMMDDhhmmss`` time (14 ASCII digits, a real date)."""
    if len(s) != 14 or not s.isdigit() or not s.isascii():
        return False
    try:
        datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]),
                 int(s[12:14]))
    except ValueError:
        return False
    return True


def data_time_to_datetime(s: str) -> datetime:
    """Convert an HJ 212 time to a naive datetime (China Standard Time wall clock).

    Parameters
    ----------
    s : str
        ``YYYYMMDDhhmmss`` (HJ 212-2017 Table 4), or the 17-digit form with milliseconds
        that some devices send in DataTime and every device sends in QN.

    Raises
    ------
    PacketError
        When ``s`` is not such a time.

    """
    if len(s) not in (14, 17) or not s.isdigit() or not s.isascii():
        raise PacketError(FieldIssue(None, "DataTime", f"{s[:20]!r} is not YYYYMMDDhhmmss"))
    try:
        return datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]),
                        int(s[12:14]), int(s[14:17] or 0) * 1000)
    except ValueError as exc:
        raise PacketError(FieldIssue(None, "DataTime", f"{s!r}: {exc}")) from exc


def datetime_to_data_time(t: datetime) -> str:
    """Format a naive CST datetime as ``YYYYMMDDhhmmss``."""
    return t.strftime("%Y%m%d%H%M%S")


def qn_from_datetime(t: datetime) -> str:
    """Format a naive CST datetime as a 17-digit QN ``YYYYMMDDhhmmsszzz``."""
    return t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 1000:03d}"

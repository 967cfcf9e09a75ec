"""Validated query parameters shared by the routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query

from lantian.api.export import TableFormat

__all__ = ["District", "Fmt", "MnPath", "Month", "Sector", "cst_now", "this_month"]

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"

Month = Annotated[
    str | None, Query(pattern=MONTH_RE, description="YYYY-MM (CST); default: this month")
]
District = Annotated[str | None, Query(pattern=r"^\d{1,12}$",
                                       description="district code prefix (province/city/district)")]
Sector = Annotated[str | None, Query(min_length=1, max_length=40, pattern=r"^[\w-]+$")]
Fmt = Annotated[TableFormat, Query(alias="format", description="json, or csv / xlsx download")]
MnPath = Annotated[str, "HJ 212 MN"]


def cst_now() -> dt.datetime:
    """Return the current China Standard Time wall-clock (naive)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(hours=8)


def this_month(month: str | None) -> str:
    """``month`` or the current CST month as ``YYYY-MM``."""
    return month or cst_now().strftime("%Y-%m")

"""Send a table as JSON, CSV or Excel (openpyxl); downloads are written to the audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from enum import StrEnum
from typing import Any

from fastapi.responses import JSONResponse, Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from lantian.api.auth import Principal
from lantian.api.deps import Database, audit
from lantian.api.queries import Rows

__all__ = ["TableFormat", "cell", "respond"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TableFormat(StrEnum):
    """How a table is sent: JSON (default), CSV or Excel download."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def cell(value: Any) -> Any:
    """JSON-safe value: ISO times (CST, no zone), ``null`` for NaN, lists kept."""
    kind = type(value)
    if kind is int or (kind is str and value[:1] not in ("{", "[")) or value is None:
        return value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): cell(v) for k, v in value.items()}
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)
    return cell(item()) if callable(item) else str(value)


def _flat(value: Any) -> Any:
    """Return the spreadsheet value of a cell.

    Nested values become JSON text, control characters (not allowed in .xlsx) are removed,
    and text starting with = + - @ is quoted so that a spreadsheet does not run it.
    """
    v = cell(value)
    if isinstance(v, list | dict):
        v = json.dumps(v, ensure_ascii=False)
    if isinstance(v, str):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
        if v[:1] in ("=", "+", "-", "@"):
            v = "'" + v
    return v


def _csv(rows: Rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(rows.columns)
    for r in rows.rows:
        w.writerow(["" if (v := _flat(r.get(c))) is None else v for c in rows.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese text right


def _xlsx(rows: Rows, title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(rows.columns)
    for c in ws[1]:
        c.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for r in rows.rows:
        ws.append([_flat(r.get(c)) for c in rows.columns])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def respond(rows: Rows, fmt: TableFormat, name: str, db: Database, who: Principal,
            extra: dict[str, Any] | None = None) -> Response:
    """Return ``rows`` as JSON ``{"items": [...], ...}`` or as a CSV/Excel download."""
    if fmt is TableFormat.json:
        body: dict[str, Any] = {"items": [{k: cell(v) for k, v in r.items()} for r in rows.rows]}
        if rows.total is not None:
            body["total"] = rows.total
        body.update(extra or {})
        return JSONResponse(body)
    audit(db, who.name, "export", name, f"format={fmt.value} rows={len(rows.rows)}")
    if fmt is TableFormat.csv:
        data, media = _csv(rows), "text/csv; charset=utf-8"
    else:
        data, media = _xlsx(rows, name), XLSX
    disp = f'attachment; filename="{name}.{fmt.value}"'
    return Response(data, media_type=media, headers={"Content-Disposition": disp})

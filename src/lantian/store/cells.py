"""Turn the values of accepted data packets into Arrow tables for the wide and long tables.

Column-wise and without per-row SQL: one pass over the packets fills Python lists per column
(a dict lookup and a list store per value), then each table is handed to DuckDB as one Arrow
frame. Routing rules are those of :mod:`lantian.store.routing`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lantian.catalog.glossary import by_code, glossary, wide_columns
from lantian.store.routing import TABLE_OF_CN, encode_sent_codes, is_text_column, routes

__all__ = ["DataRow", "LongRows", "long_table", "wide_table"]

_KEY_OF: dict[str, str] = {col: e.key for e in glossary() for col in wide_columns(e).values()}


@dataclass(frozen=True, slots=True)
class DataRow:
    """One accepted data record: where it came from and its values as sent.

    ``values`` is ``{factor code: {suffix: value}}`` with numbers as float and text (flags,
    info items) as str, exactly as the codec hands them over.
    """

    packet_id: int
    mn: str
    cn: str
    ts: dt.datetime
    values: Mapping[str, Mapping[str, Any]]


@dataclass
class LongRows:
    """Column lists of ``value_long`` rows being collected."""

    packet_id: list[int] = dataclasses.field(default_factory=list)
    mn: list[str] = dataclasses.field(default_factory=list)
    cn: list[str] = dataclasses.field(default_factory=list)
    ts: list[dt.datetime] = dataclasses.field(default_factory=list)
    code: list[str] = dataclasses.field(default_factory=list)
    suffix: list[str] = dataclasses.field(default_factory=list)
    num: list[float | None] = dataclasses.field(default_factory=list)
    text: list[str | None] = dataclasses.field(default_factory=list)

    def add(self, row: DataRow, code: str, suffix: str, value: Any) -> None:
        """Append one value, numeric or text, with its code and suffix as sent."""
        self.packet_id.append(row.packet_id)
        self.mn.append(row.mn)
        self.cn.append(row.cn)
        self.ts.append(row.ts)
        self.code.append(code)
        self.suffix.append(suffix)
        if isinstance(value, str) or value is None or isinstance(value, bool):
            self.num.append(None)
            self.text.append(None if value is None else str(value))
        else:
            self.num.append(float(value))
            self.text.append(None)

    def __len__(self) -> int:
        return len(self.packet_id)


def long_table(rows: LongRows) -> pa.Table:
    """Return the collected long rows as an Arrow table shaped like ``value_long``."""
    return pa.table(
        {
            "packet_id": pa.array(rows.packet_id, pa.int64()),
            "mn": pa.array(rows.mn, pa.string()),
            "cn": pa.array(rows.cn, pa.string()),
            "ts": pa.array(rows.ts, pa.timestamp("us")),
            "code": pa.array(rows.code, pa.string()),
            "field": pa.array(rows.suffix, pa.string()),
            "num": pa.array(rows.num, pa.float64()),
            "text": pa.array(rows.text, pa.string()),
        }
    )


def _fits(column: str, value: Any) -> bool:
    if is_text_column(column):
        return isinstance(value, str)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _code_sent(row: DataRow, col: str, suffix: str) -> str:
    """Return the code under which ``row`` sent the value now in wide column ``col``."""
    key = _KEY_OF[col]
    for code, fields in row.values.items():
        entry = by_code().get(code)
        if entry is not None and entry.key == key and suffix in fields:
            return code
    return key


def _column_array(
    col: str,
    suffix: str,
    values: list[Any],
    rows: Sequence[DataRow],
    long: LongRows,
) -> pa.Array:
    """Arrow array of one wide column; on a type misfit, move the misfits to ``long``."""
    typ = pa.string() if is_text_column(col) else pa.float64()
    try:
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    for j, value in enumerate(values):
        if value is not None and not _fits(col, value):
            long.add(rows[j], _code_sent(rows[j], col, suffix), suffix, value)
            values[j] = None
    return pa.array(values, typ)


_Fast = dict[str, tuple[str, dict[str, list[Any]], str | None]]


def _place_row(
    j: int, row: DataRow, fast: _Fast, long: LongRows
) -> tuple[bool, dict[str, str] | None]:
    """Put row ``j``'s values into the column lists; return (any placed, sent-code map)."""
    claimed: dict[str, str] = {}
    alt_codes: dict[str, str] | None = None
    placed = False
    for code, fields in row.values.items():
        route = fast.get(code)
        if route is None or claimed.setdefault(route[0], code) != code:
            for suffix, value in fields.items():
                long.add(row, code, suffix, value)
            continue
        key, lists, alt = route
        for suffix, value in fields.items():
            arr = lists.get(suffix)
            if arr is None:
                long.add(row, code, suffix, value)
            else:
                arr[j] = value
                placed = True
        if alt is not None:
            if alt_codes is None:
                alt_codes = {}
            alt_codes[key] = alt
    return placed, alt_codes


def wide_table(table: str, rows: Sequence[DataRow], long: LongRows) -> pa.Table | None:
    """Build the Arrow frame of ``table`` from ``rows``; values without a column go to ``long``.

    Returns None when no row has any wide value (e.g. water data, whose ``w``-codes are not
    in the flue-gas glossary). Rows whose every value went to ``long`` are left out.
    """
    if table not in TABLE_OF_CN.values():
        raise ValueError(f"not a wide table: {table}")
    m = len(rows)
    cells: dict[str, list[Any]] = {}
    # per batch: code -> (glossary key, {suffix: the column's list}, code as sent or None)
    fast: _Fast = {}
    suffix_of: dict[str, str] = {}
    for code, (key, sufmap, alt) in routes(table).items():
        lists = {suf: cells.setdefault(col, [None] * m) for suf, col in sufmap.items()}
        fast[code] = (key, lists, alt)
        suffix_of.update({col: suf for suf, col in sufmap.items()})
    sent: list[str | None] = [None] * m
    keep = [False] * m
    for j, row in enumerate(rows):
        placed, alt_codes = _place_row(j, row, fast, long)
        keep[j] = placed
        if alt_codes:
            sent[j] = encode_sent_codes(alt_codes)
    if not any(keep):
        return None
    data: dict[str, pa.Array] = {
        "mn": pa.array([r.mn for r in rows], pa.string()),
        "ts": pa.array([r.ts for r in rows], pa.timestamp("us")),
        "packet_id": pa.array([r.packet_id for r in rows], pa.int64()),
        "sent_codes": pa.array(sent, pa.string()),
    }
    for col, values in cells.items():
        if values.count(None) != m:
            data[col] = _column_array(col, suffix_of[col], values, rows, long)
    frame = pa.table(data)
    if not all(keep):
        frame = frame.filter(pa.array(keep, pa.bool_()))
    return frame

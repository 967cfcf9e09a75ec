"""Read stored data records back as they were sent: ``{code: {suffix: value}}`` per record.

A record is an accepted packet with a ``DataTime``. Its values are rebuilt from the wide
table of its command (through the glossary: column → code and suffix) and from
``value_long`` (code and suffix as sent). Codes come back **as sent**: an HJ/T 212-2005
packet's ``02-Avg`` is stored in ``so2_mg_m3`` and exported as ``02``/``Avg`` again, because
the row's ``sent_codes`` remembers the code (see :mod:`lantian.store.routing`). Numbers come
back as floats (``12.30`` sent → ``12.3``), text (flags, info items) as sent.

Rows rolled into the Parquet lake are read too when the lake views exist
(:func:`lantian.store.lake.relation`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from lantian.catalog.glossary import glossary
from lantian.store.lake import relation
from lantian.store.routing import TABLE_OF_CN, decode_sent_codes, suffixes_for

__all__ = ["export_records", "flatten_record", "records_table"]

Values = dict[str, dict[str, Any]]


def _filters(
    mn: str, cn: str | None, start: dt.datetime | None, end: dt.datetime | None, col: str
) -> tuple[str, list[Any]]:
    sql: list[str] = ["mn = ?"]
    args: list[Any] = [mn]
    if cn is not None:
        sql.append("cn = ?")
        args.append(cn)
    if start is not None:
        sql.append(f"{col} >= ?")
        args.append(start)
    if end is not None:
        sql.append(f"{col} < ?")
        args.append(end)
    return " AND ".join(sql), args


def _wide_values(
    con: duckdb.DuckDBPyConnection,
    table: str,
    mn: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    out: dict[int, Values],
) -> None:
    where, args = _filters(mn, None, start, end, "ts")
    rows = con.sql(
        f"SELECT * FROM {relation(con, table)} WHERE {where}", params=args
    ).to_arrow_table()
    if rows.num_rows == 0:
        return
    plan = [
        (e.key, e.code_2017, suffix, col)
        for e in glossary()
        for suffix, col in suffixes_for(table, e.key).items()
        if col in rows.column_names
    ]
    columns = {name: rows.column(name).to_pylist() for name in rows.column_names}
    ids = columns["packet_id"]
    sent = columns["sent_codes"]
    for i, pid in enumerate(ids):
        values = out.get(pid)
        if values is None:
            continue
        alt = decode_sent_codes(sent[i])
        for key, code, suffix, col in plan:
            v = columns[col][i]
            if v is not None:
                values.setdefault(alt.get(key, code), {})[suffix] = v


def export_records(
    con: duckdb.DuckDBPyConnection,
    *,
    mn: str,
    cn: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the stored data records of ``mn``, oldest first.

    Parameters
    ----------
    con
        Open database connection.
    mn
        Data-logger id as sent.
    cn
        One command code (``2011``, ``2051``, ``2061``, ``2031`` …); all when None.
    start, end
        ``DataTime`` bounds, China Standard Time wall-clock: ``start <= DataTime < end``.

    Yields
    ------
    dict
        ``{"mn", "cn", "data_time" (datetime, CST), "values": {code: {suffix: value}}}``.

    """
    where, args = _filters(mn, cn, start, end, "data_time")
    heads = con.execute(
        f"SELECT id, cn, data_time FROM {relation(con, 'packet_journal')} "
        f"WHERE verdict = 'accepted' AND data_time IS NOT NULL AND {where} "
        "ORDER BY data_time, cn, id",
        args,
    ).fetchall()
    if not heads:
        return
    values: dict[int, Values] = {pid: {} for pid, _, _ in heads}
    cns = {c for _, c, _ in heads}
    lo = min(h[2] for h in heads)
    hi = max(h[2] for h in heads) + dt.timedelta(microseconds=1)
    for c in sorted(cns):
        table = TABLE_OF_CN.get(c)
        if table is not None:
            _wide_values(con, table, mn, lo, hi, values)
    where_l, args_l = _filters(mn, cn, lo, hi, "ts")
    for pid, code, suffix, num, text in con.execute(
        f"SELECT packet_id, code, field, num, text FROM {relation(con, 'value_long')} "
        f"WHERE {where_l}",
        args_l,
    ).fetchall():
        v = values.get(pid)
        if v is not None:
            v.setdefault(code, {})[suffix] = num if num is not None else text
    for pid, c, t in heads:
        yield {"mn": mn, "cn": c, "data_time": t, "values": values[pid]}


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """One record as a flat row: ``mn``, ``cn``, ``data_time`` and ``"<code>-<suffix>"`` columns."""
    row = {"mn": record["mn"], "cn": record["cn"], "data_time": record["data_time"]}
    for code, fields in record["values"].items():
        for suffix, value in fields.items():
            row[f"{code}-{suffix}"] = value
    return row


def records_table(records: Iterator[dict[str, Any]]) -> pa.Table:
    """Flat Arrow table of records (for CSV and Parquet); mixed-type columns become text."""
    rows = [flatten_record(r) for r in records]
    names: dict[str, None] = {"mn": None, "cn": None, "data_time": None}
    for r in rows:
        names.update(dict.fromkeys(r))
    head = ["mn", "cn", "data_time"]
    rest = sorted(n for n in names if n not in head)
    arrays: dict[str, pa.Array] = {
        "mn": pa.array([r["mn"] for r in rows], pa.string()),
        "cn": pa.array([r["cn"] for r in rows], pa.string()),
        "data_time": pa.array([r["data_time"] for r in rows], pa.timestamp("s")),
    }
    for name in rest:
        col = [r.get(name) for r in rows]
        kinds = {type(v) for v in col if v is not None}
        if kinds <= {float, int}:
            arrays[name] = pa.array(col, pa.float64())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in col], pa.string())
    return pa.table(arrays)

"""Maintenance and calibration records of the O&M contractor (运维记录), CSV or Excel.

Columns (header names, Chinese or English): ``mn`` (监测点MN / MN), ``start`` (开始时间),
``end`` (结束时间), ``kind`` (类型: maintenance/calibration/repair/check or 维护/校准/维修/
校验), optional ``contractor`` (运维单位) and ``note`` (备注). Times are China Standard Time
wall-clock, ``YYYY-MM-DD HH:MM[:SS]`` or ISO with ``T``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from lantian.errors import InputFileError

if TYPE_CHECKING:
    import duckdb

__all__ = ["insert_records", "read_maintenance"]

_ALIASES = {
    "mn": "mn", "监测点mn": "mn", "数采仪mn": "mn", "MN": "mn",
    "start": "start", "开始时间": "start", "start_ts": "start",
    "end": "end", "结束时间": "end", "end_ts": "end",
    "kind": "kind", "类型": "kind", "contractor": "contractor", "运维单位": "contractor",
    "note": "note", "备注": "note",
}
_KINDS = {"维护": "maintenance", "校准": "calibration", "标定": "calibration", "维修": "repair",
          "校验": "check", "maintenance": "maintenance", "calibration": "calibration",
          "repair": "repair", "check": "check"}


def read_maintenance(path: str | Path) -> pd.DataFrame:
    """Read and validate a records file; columns mn, start_ts, end_ts, kind, contractor, note.

    Raises
    ------
    InputFileError
        Naming the file, row and column of the first problem.

    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: file not found")
    try:
        if p.suffix.lower() in (".xlsx", ".xlsm"):
            raw = pd.read_excel(p, dtype=str)
        else:
            raw = pd.read_csv(p, dtype=str, encoding="utf-8-sig")
    except (ValueError, OSError) as exc:
        raise InputFileError(f"{p}: cannot read ({exc})") from exc
    cols = {c: _ALIASES.get(str(c).strip(), _ALIASES.get(str(c).strip().lower()))
            for c in raw.columns}
    df = raw.rename(columns={c: n for c, n in cols.items() if n})
    for need in ("mn", "start", "end", "kind"):
        if need not in df.columns:
            have = ", ".join(map(str, raw.columns))
            raise InputFileError(f"{p}: column {need!r} missing (have {have})")
    out = []
    for i, r in enumerate(df.to_dict("records"), start=2):
        try:
            start = pd.Timestamp(str(r["start"]).replace("T", " "))
            end = pd.Timestamp(str(r["end"]).replace("T", " "))
        except ValueError as exc:
            raise InputFileError(f"{p} row {i}: bad time ({exc})") from exc
        if pd.isna(start) or pd.isna(end) or end < start:
            raise InputFileError(f"{p} row {i}: end before start or time missing")
        kind = _KINDS.get(str(r["kind"]).strip())
        if kind is None:
            raise InputFileError(f"{p} row {i} column kind: unknown kind {r['kind']!r}")
        mn = str(r["mn"]).strip()
        if not mn or mn == "nan":
            raise InputFileError(f"{p} row {i} column mn: empty")
        note = r.get("note")
        contractor = r.get("contractor")
        out.append({"mn": mn, "start_ts": start.to_pydatetime(), "end_ts": end.to_pydatetime(),
                    "kind": kind,
                    "contractor": None if pd.isna(contractor) else contractor,
                    "note": None if pd.isna(note) else note, "source_file": p.name})
    return pd.DataFrame(out, columns=["mn", "start_ts", "end_ts", "kind", "contractor", "note",
                                      "source_file"])


def insert_records(con: duckdb.DuckDBPyConnection, records: pd.DataFrame) -> int:
    """Insert records into ``maintenance_record`` (DuckDB connection); skip exact duplicates."""
    if records.empty:
        return 0
    con.register("_maint_in", records)
    try:
        row = con.execute(
            "INSERT INTO maintenance_record (mn, start_ts, end_ts, kind, contractor, note, "
            "source_file) SELECT i.mn, i.start_ts, i.end_ts, i.kind, i.contractor, i.note, "
            "i.source_file FROM _maint_in i WHERE NOT EXISTS (SELECT 1 FROM maintenance_record m"
            " WHERE m.mn = i.mn AND m.start_ts = i.start_ts AND m.end_ts = i.end_ts "
            "AND m.kind = i.kind)").fetchone()
    finally:
        con.unregister("_maint_in")
    return int(row[0]) if row else 0

"""``lantian data export``: stored data records of one monitoring point, values as sent.

Contract (issue 2, keep stable)::

    lantian data export --db PATH --mn MN [--cn 2011|2051|2061|2031] [--from T] [--to T]
                        [--format json|csv|parquet] [--out FILE]

JSON: one object per record, oldest first: ``{"mn", "cn", "data_time", "values"}`` with
``data_time`` ISO ``YYYY-MM-DDTHH:MM:SS`` (China Standard Time, the DataTime as sent) and
``values`` ``{code: {suffix: value}}`` keyed by the code as sent (HJ/T 212-2005 packets keep
their 2005 codes). CSV and Parquet: one row per record, columns ``mn``, ``cn``,
``data_time`` and ``<code>-<suffix>``. All command codes when ``--cn`` is omitted.
``--from`` is inclusive and ``--to`` exclusive; T is ``YYYY-MM-DD``,
``YYYY-MM-DDTHH:MM:SS`` or ``YYYYMMDDhhmmss`` (CST). Parquet needs ``--out``.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lantian.commands._common import DbOption, echo_err, emit_rows, fail
from lantian.errors import ConfigurationError, LantianError

__all__ = ["data_app", "parse_time", "register"]

data_app = typer.Typer(help="Stored monitoring data (监测数据).", no_args_is_help=True)


class ExportFormat(StrEnum):
    """Output formats of ``data export``."""

    json = "json"
    csv = "csv"
    parquet = "parquet"


def parse_time(text: str) -> dt.datetime:
    """Parse a CLI time (CST): ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS`` or ``YYYYMMDDhhmmss``."""
    for fmt in (
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
        "%Y%m%d%H%M%S",
    ):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ConfigurationError(
        f"time {text!r} is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or YYYYMMDDhhmmss (CST)"
    )


@data_app.command("export")
def export_cmd(
    db: DbOption,
    mn: Annotated[str, typer.Option("--mn", help="Data-logger id (MN) as sent.")],
    cn: Annotated[
        str | None, typer.Option("--cn", help="2011 real-time, 2051 minute, 2061 hour, 2031 day.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="From this DataTime, inclusive (CST).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Up to this DataTime, exclusive.")] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", help="json (JSON Lines), csv or parquet.")
    ] = ExportFormat.json,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (required for parquet).")
    ] = None,
) -> None:
    """Export stored data records with their values as sent (导出监测数据)."""
    from lantian.store.db import connect
    from lantian.store.export import export_records, records_table

    try:
        if cn is not None and not (len(cn) == 4 and cn.isdigit()):
            raise ConfigurationError(f"--cn {cn!r} is not a 4-digit command code")
        t0 = parse_time(start) if start else None
        t1 = parse_time(end) if end else None
        if format is ExportFormat.parquet and out is None:
            raise ConfigurationError("--format parquet needs --out FILE")
        con = connect(db)
        try:
            records = export_records(con, mn=mn, cn=cn, start=t0, end=t1)
            if format is ExportFormat.json:
                n = emit_rows(records) if out is None else _write_json(records, out)
            else:
                table = records_table(records)
                n = table.num_rows
                _write_table(table, format, out)
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    echo_err(f"{n} records of {mn} exported / 导出 {n} 条 (times are China Standard Time)")


def _write_json(records, out: Path) -> int:  # type: ignore[no-untyped-def]
    import json

    from lantian.commands._common import to_jsonable

    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(to_jsonable(r), ensure_ascii=False) + "\n")
            n += 1
    return n


def _write_table(table, format: ExportFormat, out: Path | None) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if format is ExportFormat.parquet:
        pq.write_table(table, str(out))
        return
    import pyarrow.compute as pc

    # ISO times (CST) in CSV, like the JSON output
    idx = table.column_names.index("data_time")
    iso = pc.strftime(table.column("data_time"), format="%Y-%m-%dT%H:%M:%S")
    table = table.set_column(idx, "data_time", iso)
    if out is None:
        sink = sys.stdout.buffer
        pacsv.write_csv(table, sink)
        sink.flush()
    else:
        pacsv.write_csv(table, str(out))


def register(app: typer.Typer) -> None:
    """Add the ``data`` group."""
    app.add_typer(data_app, name="data")

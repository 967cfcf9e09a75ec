"""The Parquet lake: months of journal and time series kept as Hive-partitioned Parquet.

Layout (DESIGN.md §2)::

    <root>/<table>/month=YYYY-MM/mn=<MN>/data_0.parquet

``month`` is the China Standard Time calendar month of the table's time column (``ts``;
``received_at`` for the journal). Files hold every column of the table, ``mn`` included, so
``read_parquet(..., union_by_name=true)`` gives rows shaped like the DuckDB table.

* :func:`export_lake` writes months to the lake. A month's partition is rewritten from the
  union of what DuckDB and the lake already hold for it (de-duplicated by the table's key),
  written to a temporary folder and swapped in, so exporting again never loses rows.
* :func:`roll` moves months older than N months out of DuckDB (journal, real-time, minute,
  long values): export first, then delete in one transaction.
* :func:`relation` gives readers a name that sees both: a temporary view
  ``<table>_all`` = DuckDB rows ∪ lake rows not in DuckDB.
* :func:`import_lake` copies lake rows back into DuckDB (rows already there are kept).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

import duckdb

from lantian.errors import ConfigurationError, StoreError
from lantian.store.db import threads

__all__ = [
    "LAKE_TABLES",
    "ROLL_TABLES",
    "copy_partitioned",
    "export_lake",
    "import_lake",
    "lake_root",
    "months_in",
    "relation",
    "roll",
    "set_lake_root",
]

#: table -> (time column that picks the month, key columns)
LAKE_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "packet_journal": ("received_at", ("id",)),
    "packet_key": ("ts", ("mn", "cn", "k")),
    "flue_rtd": ("ts", ("mn", "ts")),
    "flue_minute": ("ts", ("mn", "ts")),
    "flue_hour": ("ts", ("mn", "ts")),
    "flue_day": ("ts", ("mn", "ts")),
    "value_long": ("ts", ("packet_id", "code", "field")),
}
#: Tables :func:`roll` moves out of DuckDB. Hour and day tables stay (they are small), and so
#: do the de-duplication keys, so that a retransmission of a rolled month is still a duplicate.
ROLL_TABLES: tuple[str, ...] = (
    "packet_journal",
    "flue_rtd",
    "flue_minute",
    "value_long",
)


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _check_month(month: str) -> str:
    try:
        dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ConfigurationError(f"month {month!r} is not YYYY-MM") from None
    return month


def set_lake_root(con: duckdb.DuckDBPyConnection, root: str | Path) -> Path:
    """Remember ``root`` as this database's lake (``store_setting.lake_root``)."""
    path = Path(root).resolve()
    con.execute(
        "INSERT INTO store_setting VALUES ('lake_root', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [str(path)],
    )
    return path


def lake_root(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Return the lake root recorded for this database, or None."""
    try:
        row = con.execute("SELECT value FROM store_setting WHERE name = 'lake_root'").fetchone()
    except duckdb.CatalogException:
        return None
    return Path(row[0]) if row else None


def _lake_glob(root: Path, table: str, month: str = "*") -> Path | None:
    base = root / table
    pattern = f"month={month}/*/*.parquet"
    return base / pattern if any(base.glob(pattern)) else None


def _lake_scan(root: Path, table: str, month: str = "*") -> str | None:
    glob = _lake_glob(root, table, month)
    if glob is None:
        return None
    return f"read_parquet({_q(glob)}, hive_partitioning = false, union_by_name = true)"


def relation(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Name to read ``table`` from: itself, or a view adding the rows rolled into the lake."""
    root = lake_root(con)
    scan = _lake_scan(root, table) if root is not None and table in LAKE_TABLES else None
    if scan is None:
        return table
    keys = ", ".join(LAKE_TABLES[table][1])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table}_all AS SELECT * FROM {table} "
        f"UNION ALL BY NAME SELECT l.* FROM {scan} l ANTI JOIN {table} USING ({keys})"
    )
    return f"{table}_all"


def months_in(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Months (``YYYY-MM``, CST) present in the DuckDB table."""
    col = LAKE_TABLES[table][0]
    rows = con.execute(
        f"SELECT DISTINCT strftime({col}, '%Y-%m') AS m FROM {table} ORDER BY m"
    ).fetchall()
    return [r[0] for r in rows]


def copy_partitioned(con: duckdb.DuckDBPyConnection, query: str, target: Path, *,
                     keys: tuple[str, ...], options: str, params: list[Any] | None = None,
                     ) -> None:
    """``COPY`` the rows of ``query`` to Parquet files partitioned by ``mn`` under ``target``.

    A time series table (keys ``(mn, ts)``) is written in time order in each point's file:
    the monthly qc job takes spike's one-minute steps from the read order where a point's
    rows are one time-ordered run (:func:`lantian.engine.quality.blocks.minute_blocks`),
    else it sorts them itself. DuckDB 2.0's partitioned ``COPY`` puts the row groups of its
    threads into a file out of order even under ``ORDER BY`` (measured: 28 of 100 point
    files at 2 threads, none at 1), so the ordered ``COPY`` runs on one thread (4.3 M minute
    rows: 6.3 -> 9.5 CPU-s) and the connection's setting is restored afterwards. Other
    tables are written as read. ``options``: further ``COPY`` options.
    """
    ordered = keys == ("mn", "ts")
    sql = (f"COPY ({query}{' ORDER BY mn, ts' if ordered else ''}) TO {_q(target)} "
           f"(FORMAT parquet, PARTITION_BY (mn), {options})")
    if not ordered:
        con.execute(sql, params)
        return
    with threads(con, 1):
        con.execute(sql, params)


def _export_month(con: duckdb.DuckDBPyConnection, root: Path, table: str, month: str) -> int:
    col, keys = LAKE_TABLES[table]
    src = f"SELECT *, 0 AS _src FROM {table} WHERE strftime({col}, '%Y-%m') = '{month}'"
    scan = _lake_scan(root, table, month)
    if scan is not None:
        src += f" UNION ALL BY NAME SELECT *, 1 AS _src FROM {scan}"
    query = (
        f"SELECT * EXCLUDE (_src) FROM ({src}) "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY _src) = 1"
    )
    count = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
    n = int(count[0]) if count else 0
    final = root / table / f"month={month}"
    if n == 0:
        return 0
    tmp = root / table / f".tmp-{month}-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        copy_partitioned(con, query, tmp, keys=keys,
                         options="WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true")
        old = final.with_name(f".old-{month}-{uuid.uuid4().hex}")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return n


def export_lake(
    con: duckdb.DuckDBPyConnection,
    root: str | Path,
    month: str | None = None,
    tables: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Write ``tables`` (default: all of :data:`LAKE_TABLES`) to the lake at ``root``.

    Parameters
    ----------
    con
        Open database connection.
    root
        Lake folder (created if missing) and recorded as this database's lake.
    month
        ``YYYY-MM`` (CST) to export only that month; every month present when None.
    tables
        Which tables.

    Returns
    -------
    dict
        ``{table: rows now in the lake for the months written}``.

    """
    path = Path(root).resolve()
    path.mkdir(parents=True, exist_ok=True)
    set_lake_root(con, path)
    out: dict[str, int] = {}
    for table in tables or tuple(LAKE_TABLES):
        if table not in LAKE_TABLES:
            raise ConfigurationError(f"{table!r} is not a lake table")
        months = [_check_month(month)] if month else months_in(con, table)
        try:
            out[table] = sum(_export_month(con, path, table, m) for m in months)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"lake export of {table} failed: {exc}") from exc
    return out


def import_lake(con: duckdb.DuckDBPyConnection, root: str | Path) -> dict[str, int]:
    """Copy every lake table under ``root`` into DuckDB; rows already there are kept.

    Returns ``{table: rows added}``.
    """
    path = Path(root).resolve()
    if not path.is_dir():
        raise ConfigurationError(f"lake folder {path} does not exist")
    out: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, (_, keys) in LAKE_TABLES.items():
            scan = _lake_scan(path, table)
            if scan is None:
                continue
            before = _count(con, table)
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT l.* FROM {scan} l "
                f"ANTI JOIN {table} USING ({', '.join(keys)})"
            )
            out[table] = _count(con, table) - before
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise StoreError(f"lake import failed: {exc}") from exc
        raise
    return out


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _month_start(today: dt.date, months_back: int) -> dt.datetime:
    index = today.year * 12 + today.month - 1 - months_back
    return dt.datetime(index // 12, index % 12 + 1, 1)


def _keep_journal_id_high(con: duckdb.DuckDBPyConnection) -> None:
    """Record the largest journal id before rows leave DuckDB (``journal_id_high``).

    New ids continue after it (:class:`lantian.store.ingest.PacketStore`), so a roll that
    empties ``packet_journal`` never lets ids start again at 1 and collide with the lake's.
    """
    con.execute(
        "INSERT INTO store_setting "
        "SELECT 'journal_id_high', CAST(max(id) AS VARCHAR) FROM packet_journal "
        "HAVING max(id) IS NOT NULL "
        "ON CONFLICT (name) DO UPDATE SET value = CAST(greatest("
        "CAST(store_setting.value AS BIGINT), CAST(excluded.value AS BIGINT)) AS VARCHAR)"
    )


def roll(
    con: duckdb.DuckDBPyConnection,
    root: str | Path,
    keep_months: int,
    *,
    today: dt.date | None = None,
) -> dict[str, int]:
    """Move rows older than ``keep_months`` whole months into the lake.

    Rows whose month starts before the first day of the month ``keep_months`` months before
    the current one (CST) are exported (:func:`export_lake`) and then deleted from DuckDB in
    one transaction; readers keep seeing them through :func:`relation`. ``keep_months=0``
    keeps only the current month.

    Returns ``{table: rows deleted from DuckDB}``.
    """
    if keep_months < 0:
        raise ConfigurationError("keep_months must be 0 or more")
    from lantian.store.ingest import cst_now

    cutoff = _month_start(today or cst_now().date(), keep_months)
    Path(root).mkdir(parents=True, exist_ok=True)
    set_lake_root(con, root)
    old = {t: [m for m in months_in(con, t) if m < cutoff.strftime("%Y-%m")] for t in ROLL_TABLES}
    for table, months in old.items():
        for m in months:
            export_lake(con, root, m, (table,))
    deleted: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        _keep_journal_id_high(con)
        for table in ROLL_TABLES:
            col = LAKE_TABLES[table][0]
            before = _count(con, table)
            con.execute(f"DELETE FROM {table} WHERE {col} < ?", [cutoff])
            deleted[table] = before - _count(con, table)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
    return deleted

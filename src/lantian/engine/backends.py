"""Engine backends: one Ibis connection per run, DuckDB by default, PySpark at scale.

Every backend exposes the same table names, so the rules in :mod:`lantian.engine` are
written once:

``flue_minute``
    minute data (HJ 212 CN=2051), ``ts`` = period start, China Standard Time wall-clock.
``monitoring_point``, ``outlet``, ``enterprise_mark``, ``permit_limit``, ``status_item``
    registry and marks (small); ``status_item`` holds the HJ 212 ``i12001`` working-state
    readings (``mn, ts, code, num``) taken from ``value_long``.

DuckDB reads the database file read-only (``flue_minute`` from the file, or from a Parquet
lake when one is given). Spark reads the Parquet lake (Hive-partitioned
``root/flue_minute/month=YYYY-MM/mn=…/*.parquet``, exported from DuckDB first when the month
is missing there) with the session time zone pinned to Asia/Shanghai so hours do not shift;
registry tables are copied from the DuckDB file as temporary views.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import types
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd

from lantian.errors import ConfigurationError, StoreError
from lantian.store import db as store_db
from lantian.store.lake import copy_partitioned

__all__ = [
    "ENGINES",
    "REGISTRY_TABLES",
    "cache_table",
    "connect",
    "export_month_to_lake",
    "minute_table",
    "month_bounds",
    "registry_table",
    "spark_backend",
    "table_names",
]

ENGINES = ("duckdb", "spark")
REGISTRY_TABLES = ("monitoring_point", "outlet", "enterprise_mark", "permit_limit", "status_item")

_EMPTY_REGISTRY: dict[str, dict[str, str]] = {
    "monitoring_point": {
        "mn": "string",
        "outlet_id": "int64",
        "source_type": "string",
        "parameters": "array<string>",
        "flow_unit": "string",
    },
    "outlet": {
        "id": "int64",
        "enterprise_id": "int64",
        "name": "string",
        "source_type": "string",
        "jurisdiction": "string",
        "stop_flow_threshold": "float64",
    },
    "enterprise_mark": {
        "outlet_id": "int64",
        "mn": "string",
        "kind": "string",
        "start_ts": "timestamp",
        "end_ts": "timestamp",
        "status": "string",
    },
    "permit_limit": {
        "enterprise_id": "int64",
        "outlet": "string",
        "pollutant": "string",
        "limit_mg_m3": "float64",
        "valid_from": "date",
        "valid_to": "date",
    },
    "status_item": {"mn": "string", "ts": "timestamp", "code": "string", "num": "float64"},
}

_REGISTRY_SQL = {
    "monitoring_point": "SELECT mn, outlet_id, source_type, parameters, flow_unit "
    "FROM monitoring_point",
    "outlet": "SELECT id, enterprise_id, name, source_type, jurisdiction, stop_flow_threshold "
    "FROM outlet",
    "enterprise_mark": "SELECT outlet_id, mn, kind, start_ts, end_ts, status FROM enterprise_mark",
    "permit_limit": "SELECT enterprise_id, outlet, pollutant, limit_mg_m3, valid_from, valid_to "
    "FROM permit_limit",
    "status_item": "SELECT mn, ts, code, num FROM value_long WHERE code = 'i12001' "
    "AND field = 'Info'",
}


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Start (inclusive) and end (exclusive) of month ``YYYY-MM``, CST wall-clock."""
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise ConfigurationError(f"month must be YYYY-MM, got {month!r}")
    y, m = int(month[:4]), int(month[5:])
    if not 1 <= m <= 12:
        raise ConfigurationError(f"month must be YYYY-MM, got {month!r}")
    start = dt.datetime(y, m, 1)
    end = dt.datetime(y + (m == 12), m % 12 + 1, 1)
    return start, end


def _registry_frames(db: Path | None) -> dict[str, pd.DataFrame]:
    """Small registry tables read from the DuckDB file (empty frames when absent)."""
    frames: dict[str, pd.DataFrame] = {}
    con = None
    if db is not None and db.exists():
        con = store_db.connect(db, read_only=True)
    try:
        for name in REGISTRY_TABLES:
            frame = None
            if con is not None:
                try:
                    frame = con.execute(_REGISTRY_SQL[name]).df()
                except duckdb.CatalogException:
                    frame = None
            if frame is None:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in _EMPTY_REGISTRY[name]})
            frames[name] = frame
    finally:
        if con is not None:
            con.close()
    return frames


def _registry_memtable(name: str, frame: pd.DataFrame) -> ibis.Table:
    frame = frame.copy()
    for col, typ in _EMPTY_REGISTRY[name].items():
        if not typ.startswith("array"):
            # NaN is a value on Spark (larger than every number): missing must be null
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        if typ.startswith("array"):
            frame[col] = pd.Series(
                [
                    list(v) if isinstance(v, list | tuple) or hasattr(v, "tolist") else None
                    for v in frame[col]
                ],
                dtype=object,
            )
    return ibis.memtable(frame, schema=ibis.schema(_EMPTY_REGISTRY[name]))


def export_month_to_lake(db: Path, lake: Path, month: str) -> Path:
    """Write month ``YYYY-MM`` of ``flue_minute`` from the DuckDB file to the Parquet lake.

    Layout ``lake/flue_minute/month=YYYY-MM/mn=<MN>/*.parquet`` (Hive partitions); an
    existing month folder is replaced. Returns the month folder.
    """
    start, end = month_bounds(month)
    out = lake / "flue_minute"
    target = out / f"month={month}"
    if target.exists():
        shutil.rmtree(target)
    out.mkdir(parents=True, exist_ok=True)
    con = store_db.connect(db, read_only=True)
    try:
        # the month is one folder: partitioned by mn under month=YYYY-MM, each point's file
        # in time order (store.lake.copy_partitioned)
        target.mkdir()
        copy_partitioned(con, "SELECT * FROM flue_minute WHERE ts >= ? AND ts < ?",
                         target, keys=("mn", "ts"), options="OVERWRITE_OR_IGNORE true",
                         params=[start, end])
    finally:
        con.close()
    return target


def _lake_glob(lake: Path) -> str:
    return str(lake / "flue_minute" / "**" / "*.parquet")


def _connect_duckdb(db: Path | None, lake: Path | None, memory_limit: str | None) -> Any:
    if lake is None:
        if db is None:
            raise ConfigurationError("the DuckDB engine needs --db or a Parquet lake")
        if not db.exists():
            store_db.connect(db).close()  # create and migrate (DESIGN.md §7)
        con = ibis.duckdb.connect(str(db), read_only=True)
    else:
        con = ibis.duckdb.connect()
        con.raw_sql(
            "CREATE VIEW flue_minute AS SELECT * FROM read_parquet("
            f"'{_lake_glob(lake)}', hive_partitioning = true, "
            "hive_types = {'month': VARCHAR, 'mn': VARCHAR})"
        )
        for name, frame in _registry_frames(db).items():
            con.create_table(name, _registry_memtable(name, frame), temp=True)
    con.raw_sql("SET TimeZone = 'Asia/Shanghai'")
    con.raw_sql("SET enable_progress_bar = false")  # it prints on stdout (see store.db)
    if memory_limit:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    if lake is None:
        _add_status_view(con)
    return con


def _add_status_view(con: Any) -> None:
    """On a database file the registry tables are there already; alias ``status_item``."""
    tables = table_names(con)
    if "status_item" not in tables and "value_long" in tables:
        con.raw_sql(f"CREATE TEMP VIEW status_item AS {_REGISTRY_SQL['status_item']}")


def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    wh = tempfile.mkdtemp(prefix="lantian-spark-")
    return (
        SparkSession.builder.master("local[*]")
        .appName("lantian-engine")
        .config("spark.sql.warehouse.dir", wh)
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={wh}")
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # one shuffle partition per core: Spark's default 200 (and the former 8) mostly adds
        # task overhead on a local session; adaptive execution only ever merges partitions
        .config("spark.sql.shuffle.partitions", str(max(2, os.cpu_count() or 2)))
        .getOrCreate()
    )


def _create_checkpointed_table(self: Any, name: str, expr: ibis.Table) -> ibis.Table:
    """Ibis's PySpark ``_create_cached_table``, with the cached table's lineage cut.

    Ibis caches with ``DataFrame.cache()``, which keeps the query's whole logical plan: a
    query over a cached table that was built from cached tables re-analyses every layer
    below it. The quality-control month run stacks about ten (blocks, running minutes,
    hours, per-detector candidates) and Spark's analyser ran out of the driver's heap
    (``java.lang.OutOfMemoryError``, CI 2026-11-23) after minutes of work. A local
    checkpoint computes the table once and keeps only its rows: the plan above it starts
    at the checkpoint.
    """
    query = self.compile(expr)
    df = self._session.sql(query).localCheckpoint(eager=True)
    df.createTempView(name)
    self._cached_dataframes[name] = df  # Ibis's _drop_cached_table unpersists it
    return self.table(name)


def spark_backend(spark: Any) -> Any:
    """Open an Ibis PySpark backend on ``spark`` whose cached tables cut their lineage."""
    con = ibis.pyspark.connect(spark)
    con._create_cached_table = types.MethodType(_create_checkpointed_table, con)
    return con


def _connect_spark(
    db: Path | None, lake: Path | None, month: str | None, session: Any | None
) -> Any:
    if lake is None:
        raise ConfigurationError("the Spark engine reads a Parquet lake: give --lake DIR")
    have = month is not None and (lake / "flue_minute" / f"month={month}").exists()
    if month is not None and db is not None and db.exists() and not have:
        export_month_to_lake(db, lake, month)
    spark = session if session is not None else _spark_session()
    if session is None:
        spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    # MN partition values look numeric; keep them strings.
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    con = spark_backend(spark)
    root = lake / "flue_minute"
    if not root.exists():
        raise StoreError(f"no minute data in the lake at {root}")
    df = spark.read.option("basePath", str(root)).parquet(str(root))
    df.createOrReplaceTempView("flue_minute")
    for name, frame in _registry_frames(db).items():
        con.create_view(name, _registry_memtable(name, frame), overwrite=True)
    # registered as a view (not an inline memtable) so cached Spark tables can refer to it
    from lantian.engine.compliance import catalogue_table

    con.create_view("limit_catalogue", catalogue_table(), overwrite=True)
    return con


def connect(
    engine: str = "duckdb",
    *,
    db: Path | None = None,
    lake: Path | None = None,
    month: str | None = None,
    session: Any | None = None,
    memory_limit: str | None = None,
) -> Any:
    """Open an Ibis backend holding the tables the engine reads (see module docstring).

    Parameters
    ----------
    engine
        ``duckdb`` (default) or ``spark``.
    db
        DuckDB database file (created and migrated if it does not exist, then opened
        read-only).
    lake
        Root of the Parquet lake. DuckDB reads minute data from it instead of the file;
        Spark always reads it (exporting ``month`` from ``db`` first when missing).
    month
        ``YYYY-MM`` the caller will assess (Spark: exported to the lake when missing).
    session
        An existing SparkSession to reuse (tests).
    memory_limit
        DuckDB ``memory_limit`` (e.g. ``"6GB"``).

    """
    if engine == "duckdb":
        return _connect_duckdb(db, lake, memory_limit)
    if engine == "spark":
        return _connect_spark(db, lake, month, session)
    raise ConfigurationError(f"unknown engine {engine!r} (use one of {', '.join(ENGINES)})")


def minute_table(con: Any, month: str) -> ibis.Table:
    """Minute rows of month ``YYYY-MM`` (``ts`` in ``[start, end)``, CST)."""
    start, end = month_bounds(month)
    t = con.table("flue_minute")
    if "month" in t.columns:
        t = t.filter(t.month == month).drop("month")
    return t.filter((t.ts >= start) & (t.ts < end))


def cache_table(con: Any, t: ibis.Table) -> ibis.Table:
    """Keep ``t`` as a temporary table of ``con`` (``t.cache()``) and return it.

    On PySpark the in-memory tables ``t`` reads (``ibis.memtable``: small constant tables such
    as the offsets of a window) are registered first. Ibis 12's PySpark backend compiles a
    cached table's SQL without registering them (``_create_cached_table`` skips the
    pre-execute hooks), so Spark failed with ``UnresolvedRelation
    [ibis_pandas_memtable_…]`` whenever an expression was cached before any query had used
    its memtables. Spark's cached DataFrame is analysed at once, so it keeps the data after
    Ibis drops the memtable's view again.
    """
    if con.name == "pyspark":
        con._register_in_memory_tables(t)  # private: the workaround, see above
    return t.cache()


def table_names(con: Any) -> set[str]:
    """Names of the tables and views the backend sees.

    On DuckDB this asks DuckDB directly: Ibis 12's ``list_tables`` calls
    ``fetch_arrow_table`` on a connection, which DuckDB 2.0 no longer has.
    """
    if con.name == "duckdb":
        rows = con.con.sql("SELECT table_name FROM information_schema.tables").fetchall()
        return {r[0] for r in rows}
    return set(con.list_tables())


def registry_table(con: Any, name: str) -> ibis.Table:
    """Registry table ``name`` of the backend, or an empty table of its schema when absent."""
    if name in table_names(con):
        return con.table(name).select(*_EMPTY_REGISTRY[name])
    return ibis.memtable(
        pd.DataFrame({c: pd.Series(dtype=object) for c in _EMPTY_REGISTRY[name]}),
        schema=ibis.schema(_EMPTY_REGISTRY[name]),
    )

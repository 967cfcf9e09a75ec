"""Air-quality tables in DuckDB: ``aq_station``, ``aq_hour``, ``aq_target`` (migration 0401).

Writes are upserts keyed by the primary key, each in one transaction: a failing import
leaves what was stored before untouched.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from lantian.errors import StoreError

__all__ = ["HOUR_COLUMNS", "upsert_hours", "upsert_stations", "upsert_targets"]

HOUR_COLUMNS: tuple[str, ...] = ("station", "ts", "so2", "no2", "pm10", "pm2_5", "co", "o3")


def _upsert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, cols: list[str]) -> int:
    view = f"_lantian_{table}_in"
    con.register(view, df[cols])
    names = ", ".join(cols)
    con.execute("BEGIN")
    try:
        con.execute(f"INSERT OR REPLACE INTO {table} ({names}) SELECT {names} FROM {view}")
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"cannot write {table}: {exc}") from exc
    finally:
        con.unregister(view)
    return len(df)


def upsert_hours(con: duckdb.DuckDBPyConnection, hourly: pd.DataFrame, source: str) -> int:
    """Insert or replace hourly rows (reader output); return the number of rows written."""
    df = hourly[list(HOUR_COLUMNS)].copy()
    df["source"] = source
    return _upsert(con, "aq_hour", df, [*HOUR_COLUMNS, "source"])


def upsert_stations(con: duckdb.DuckDBPyConnection, stations: pd.DataFrame) -> int:
    """Insert or replace station-registry rows (``station,name,city,district,lon,lat``)."""
    return _upsert(
        con, "aq_station", stations, ["station", "name", "city", "district", "lon", "lat"]
    )


def upsert_targets(con: duckdb.DuckDBPyConnection, targets: pd.DataFrame) -> int:
    """Insert or replace target rows (``place,level,year,pollutant,target,unit,source,note``)."""
    cols = ["place", "level", "year", "pollutant", "target", "unit", "source", "note"]
    return _upsert(con, "aq_target", targets, cols)

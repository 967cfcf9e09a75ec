"""Load a generated demo province into a Lantian database (``load_demo``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lantian.errors import InputFileError
from lantian.store.db import connect

__all__ = ["LoadSummary", "load_demo", "register_points"]

DEMO_JURISDICTION = "CN-43"  # the demo province's districts are Hunan codes (43xxxx)


@dataclass(frozen=True)
class LoadSummary:
    """What :func:`load_demo` stored."""

    points: int
    minute_rows: int
    param_rows: int
    maintenance_rows: int


def register_points(con, points: list[dict]) -> int:
    """Insert enterprises, outlets and monitoring points of the registry file (idempotent)."""
    n = 0
    for p in points:
        row = con.execute("SELECT id FROM enterprise WHERE name = ?", [p["enterprise"]]).fetchone()
        if row is None:
            row = con.execute(
                "INSERT INTO enterprise (name, credit_code, sector, district_code) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                [p["enterprise"], p["credit_code"], p["sector"], p["district_code"]],
            ).fetchone()
        ent = row[0]
        row = con.execute("SELECT id FROM outlet WHERE enterprise_id = ? AND name = ?",
                          [ent, p["outlet"]]).fetchone()
        if row is None:
            row = con.execute(
                "INSERT INTO outlet (enterprise_id, name, source_type, jurisdiction) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                [ent, p["outlet"], p["source_type"], DEMO_JURISDICTION],
            ).fetchone()
        if con.execute("SELECT 1 FROM monitoring_point WHERE mn = ?", [p["mn"]]).fetchone():
            continue
        con.execute(
            "INSERT INTO monitoring_point (mn, password, outlet_id, source_type, protocol, "
            "parameters) VALUES (?, ?, ?, ?, '2017', ?)",
            [p["mn"], p["password"], row[0], p["source_type"], p["parameters"]],
        )
        n += 1
    return n


def load_demo(db: str | Path, directory: str | Path) -> LoadSummary:
    """Register the demo province of ``directory`` and load its data into ``db``.

    Parquet minute files go straight into ``flue_minute``; ``params.parquet`` into
    ``value_long``; ``maintenance.csv`` into ``maintenance_record``. HJ 212 packet files
    (``hj212/``) go through the store's importer (``lantian import packets``).
    """
    d = Path(directory)
    reg = d / "registry.json"
    if not reg.is_file():
        raise InputFileError(f"{reg} not found: not a demo folder (run `lantian demo generate`)")
    points = json.loads(reg.read_text("utf-8"))["points"]
    con = connect(db)
    try:
        con.execute("BEGIN")
        register_points(con, points)
        minute_rows = 0
        pq_dir = d / "flue_minute"
        files = sorted(pq_dir.glob("*.parquet")) if pq_dir.is_dir() else []
        if files:
            before = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0]
            con.execute("INSERT OR IGNORE INTO flue_minute BY NAME SELECT * FROM read_parquet(?)",
                        [[str(f) for f in files]])
            minute_rows = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] - before
        param_rows = 0
        if (d / "params.parquet").is_file():
            param_rows = con.execute(
                "INSERT INTO value_long BY NAME SELECT * FROM read_parquet(?)",
                [str(d / "params.parquet")]).fetchone()[0]
        maint = 0
        if (d / "maintenance.csv").is_file():
            from lantian.engine.quality.maintenance import insert_records, read_maintenance

            maint = insert_records(con, read_maintenance(d / "maintenance.csv"))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    if (d / "hj212").is_dir() and any((d / "hj212").iterdir()):
        minute_rows += _import_packets(db, d / "hj212")
    return LoadSummary(len(points), int(minute_rows), int(param_rows), int(maint))


def _import_packets(db: str | Path, folder: Path) -> int:
    """HJ 212 text files through the store's bulk importer (journal, de-duplication)."""
    from lantian.hj212.columnar import column_decoder
    from lantian.store.bulk import import_packet_file
    from lantian.store.ingest import PacketStore

    con = connect(db)
    stored = 0
    try:
        store = PacketStore(con)
        for f in sorted(folder.glob("*.txt")):
            s = import_packet_file(store, f, decode_columns=column_decoder(True))
            stored += int(s.accepted)
        store.checkpoint()
    finally:
        con.close()
    return stored


def demo_backend(directory: str | Path):
    """Open an in-memory Ibis DuckDB backend over a demo folder without loading it.

    ``flue_minute`` is a view over the Parquet files; the registry, parameters and O&M
    records become small tables. Used by tests and benchmarks (province-scale Parquet).
    """
    import ibis
    import pandas as pd

    d = Path(directory)
    points = json.loads((d / "registry.json").read_text("utf-8"))["points"]
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'Asia/Shanghai'")
    glob = d / "flue_minute" / "*.parquet"
    con.raw_sql(f"CREATE VIEW flue_minute AS SELECT * FROM read_parquet('{glob}')")
    outlets = sorted({(p["enterprise"], p["outlet"], p["source_type"]) for p in points})
    oid = {o: i + 1 for i, o in enumerate(outlets)}
    con.create_table("outlet", pd.DataFrame({
        "id": [oid[o] for o in outlets], "enterprise_id": 0, "name": [o[1] for o in outlets],
        "source_type": [o[2] for o in outlets], "jurisdiction": DEMO_JURISDICTION,
        "stop_flow_threshold": float("nan")}))
    con.create_table("monitoring_point", pd.DataFrame({
        "mn": [p["mn"] for p in points],
        "outlet_id": [oid[(p["enterprise"], p["outlet"], p["source_type"])] for p in points],
        "source_type": [p["source_type"] for p in points],
        "parameters": [list(p["parameters"]) for p in points], "flow_unit": "m3/s"}))
    con.raw_sql(f"CREATE VIEW value_long AS SELECT * FROM read_parquet('{d / 'params.parquet'}')")
    from lantian.engine.quality.maintenance import read_maintenance

    con.create_table("maintenance_record", read_maintenance(d / "maintenance.csv"))
    return con

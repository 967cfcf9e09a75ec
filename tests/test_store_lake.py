"""Parquet lake export/import, roll, and backups."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.errors import ConfigurationError
from lantian.store.backup import backup, restore
from lantian.store.db import connect
from lantian.store.export import export_records
from lantian.store.ingest import Incoming, PacketStore
from lantian.store.lake import LAKE_TABLES, export_lake, import_lake, relation, roll
from test_store_ingest import P

runner = CliRunner()


def fill(con):
    """Minute data of two MNs in March and May 2024, received when sent."""
    items = []
    for mn in ("A", "B"):
        for month in (3, 5):
            for minute in range(3):
                t = dt.datetime(2024, month, 1, 8, minute)
                p = P(
                    mn,
                    "2051",
                    t.strftime("%Y%m%d%H%M%S"),
                    {
                        "a21026": {"Avg": float(month * 10 + minute), "Flag": "N"},
                        "w01018": {"Avg": 1.0},
                    },
                )
                items.append(
                    Incoming(b"##" + mn.encode(), "t", t + dt.timedelta(seconds=30), packet=p)
                )
    PacketStore(con).ingest(items)


def snapshot(con):
    return {
        t: sorted(con.execute(f"SELECT * FROM {relation(con, t)}").fetchall(), key=repr)
        for t in LAKE_TABLES
    }


def test_lake_layout_and_round_trip(tmp_path):
    con = connect(tmp_path / "a.duckdb")
    fill(con)
    before = snapshot(con)
    rows = export_lake(con, tmp_path / "lake")
    assert rows["flue_minute"] == 12 and rows["packet_journal"] == 12
    files = sorted(
        p.relative_to(tmp_path / "lake").as_posix() for p in (tmp_path / "lake").rglob("*.parquet")
    )
    assert "flue_minute/month=2024-03/mn=A/data_0.parquet" in files
    assert "packet_journal/month=2024-05/mn=B/data_0.parquet" in files
    # exporting again changes nothing (partitions are rewritten from DuckDB ∪ lake)
    assert export_lake(con, tmp_path / "lake", "2024-03")["flue_minute"] == 6
    con.close()
    fresh = connect(tmp_path / "b.duckdb")
    added = import_lake(fresh, tmp_path / "lake")
    assert added["flue_minute"] == 12 and added["value_long"] == 12
    assert snapshot(fresh) == before
    assert import_lake(fresh, tmp_path / "lake")["flue_minute"] == 0  # idempotent
    fresh.close()


def test_roll_moves_old_months_and_readers_still_see_them(tmp_path):
    con = connect(tmp_path / "a.duckdb")
    fill(con)
    before = snapshot(con)
    recs_before = list(export_records(con, mn="A"))
    moved = roll(con, tmp_path / "lake", keep_months=1, today=dt.date(2024, 6, 15))
    # cut-off 2024-05-01: March leaves DuckDB, May stays; hour/day tables are never rolled
    assert moved["flue_minute"] == 6 and moved["packet_journal"] == 6
    assert con.execute("SELECT min(ts) FROM flue_minute").fetchone()[0] == dt.datetime(
        2024, 5, 1, 8
    )
    assert snapshot(con) == before
    assert list(export_records(con, mn="A")) == recs_before
    # the de-duplication keys stay in DuckDB: a retransmission of a rolled minute is a duplicate
    p = P("A", "2051", "20240301080100", {"a21026": {"Avg": 99.0}})
    [v] = PacketStore(con).ingest([Incoming(b"##", "t", None, packet=p)])
    assert v.verdict == "duplicate"
    assert list(export_records(con, mn="A")) == recs_before
    con.close()


def test_roll_twice_keeps_lake_rows(tmp_path):
    con = connect(tmp_path / "a.duckdb")
    fill(con)
    before = snapshot(con)
    roll(con, tmp_path / "lake", keep_months=0, today=dt.date(2024, 6, 15))
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0
    roll(con, tmp_path / "lake", keep_months=0, today=dt.date(2024, 6, 15))
    export_lake(con, tmp_path / "lake")  # nothing left in DuckDB: the lake keeps its rows
    assert snapshot(con) == before
    con.close()


def test_ids_continue_after_a_roll_that_empties_the_journal(tmp_path):
    con = connect(tmp_path / "a.duckdb")
    fill(con)  # ids 1..12
    roll(con, tmp_path / "lake", keep_months=0, today=dt.date(2024, 6, 15))
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0
    p = P("A", "2051", "20240615080000", {"a21026": {"Avg": 7.0}})
    [v] = PacketStore(con).ingest([Incoming(b"##", "t", None, packet=p)])
    assert (v.verdict, v.packet_id) == ("accepted", 13)
    # the lake's twelve rows and the new one are all visible, ids unique
    journal = relation(con, "packet_journal")
    ids = [r[0] for r in con.execute(f"SELECT id FROM {journal}").fetchall()]
    assert sorted(ids) == list(range(1, 14))
    con.close()


def test_backup_and_restore(tmp_path):
    con = connect(tmp_path / "a.duckdb")
    fill(con)
    before = snapshot(con)
    out = backup(con, tmp_path / "bk")
    with pytest.raises(ConfigurationError):
        backup(con, tmp_path / "bk")  # never overwrites
    con.close()
    restored = restore(out, tmp_path / "r.duckdb")
    assert snapshot(restored) == before
    # the restored database keeps working: next packet id continues after the old ones
    [v] = PacketStore(restored).ingest(
        [
            Incoming(
                b"##", "t", None, packet=P("A", "2051", "20240601000000", {"a21026": {"Avg": 1.0}})
            )
        ]
    )
    assert v.packet_id == 13 and v.verdict == "accepted"
    restored.close()


def test_cli_backup_lake_and_roll(tmp_path):
    db = tmp_path / "a.duckdb"
    con = connect(db)
    fill(con)
    con.close()
    r = runner.invoke(app, ["store", "backup", "--db", str(db), "--out", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["backup"] == str((tmp_path / "bk").resolve())
    r = runner.invoke(app, ["store", "backup", "--db", str(db), "--out", str(tmp_path / "bk")])
    assert r.exit_code != 0 and r.stderr.startswith("error:")
    r = runner.invoke(
        app,
        ["lake", "export", "--db", str(db), "--root", str(tmp_path / "lk"), "--month", "2024-05"],
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"]["flue_minute"] == 6
    r = runner.invoke(
        app, ["lake", "export", "--db", str(db), "--root", str(tmp_path / "lk"), "--month", "May"]
    )
    assert r.exit_code != 0 and "YYYY-MM" in r.stderr
    r = runner.invoke(
        app, ["lake", "import", "--db", str(tmp_path / "n.duckdb"), "--root", str(tmp_path / "lk")]
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["added"]["flue_minute"] == 6
    r = runner.invoke(
        app,
        ["store", "roll", "--db", str(db), "--lake", str(tmp_path / "lk"), "--keep-months", "0"],
    )
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(
        app,
        ["store", "restore", "--from", str(tmp_path / "bk"), "--db", str(tmp_path / "r.duckdb")],
    )
    assert r.exit_code == 0, r.stderr


def _ingest_backwards(con, minutes: int = 40) -> None:
    """Minute data of two MNs in June 2024, stored newest first and the points interleaved."""
    items = []
    for minute in reversed(range(minutes)):
        for mn in ("A", "B"):
            t = dt.datetime(2024, 6, 1, 8) + dt.timedelta(minutes=minute)
            p = P(mn, "2051", t.strftime("%Y%m%d%H%M%S"),
                  {"a21026": {"Avg": float(minute), "Flag": "N"}, "w01018": {"Avg": 1.0}})
            items.append(Incoming(b"##" + mn.encode(), "t", t, packet=p))
    PacketStore(con).ingest(items)


def _file_times(folder):
    import pyarrow.parquet as pq

    files = sorted(folder.rglob("*.parquet"))
    return {f.parent.name: pq.read_table(f, columns=["ts"]).column("ts").to_pylist()
            for f in files}


def test_lake_files_are_in_time_order_and_threads_restored(tmp_path):
    """Each point's minute file is one time-ordered run (qc's one-minute steps read it in
    order), whatever order the rows were stored in; the connection's threads come back."""
    from lantian.engine.backends import export_month_to_lake

    db = tmp_path / "d.duckdb"
    con = connect(db)
    _ingest_backwards(con)
    con.execute("SET threads = 2")
    export_lake(con, tmp_path / "lake", tables=("flue_minute",))
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    rolled = _file_times(tmp_path / "lake" / "flue_minute")
    exported = _file_times(export_month_to_lake(db, tmp_path / "spark", "2024-06"))
    assert threads == 2
    for files in (rolled, exported):
        assert sorted(files) == ["mn=A", "mn=B"]
        for ts in files.values():
            assert len(ts) == 40 and ts == sorted(ts)

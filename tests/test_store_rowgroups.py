"""DuckDB row groups and the import's transaction size (session 4, issue 2).

* checked against the installed DuckDB: a transaction appending a whole row group
  (:data:`~lantian.store.bulk.DUCKDB_ROW_GROUP` rows) has it written straight into the
  database file, while one row less goes through the write-ahead log (and is written again
  by the next checkpoint) — so the constant is DuckDB's row group size;
* ``lantian import packets`` writes transactions of :data:`~lantian.store.bulk.IMPORT_BATCH`
  lines unless ``--batch-size`` says otherwise.
"""

from __future__ import annotations

import duckdb
from typer.testing import CliRunner

from lantian.cli import app
from lantian.store import bulk
from lantian.store.bulk import DUCKDB_ROW_GROUP, IMPORT_BATCH

runner = CliRunner()


def _wal_growth(tmp_path, name: str, rows: int) -> int:
    """Bytes the write-ahead log grows by when ``rows`` rows are appended in one transaction."""
    path = tmp_path / f"{name}.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("SET checkpoint_threshold = '1GB'")  # no automatic checkpoint at COMMIT
        con.execute("CREATE TABLE t (id BIGINT, payload VARCHAR)")
        con.execute("CHECKPOINT")
        wal = tmp_path / f"{name}.duckdb.wal"
        before = wal.stat().st_size if wal.exists() else 0
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO t SELECT i, md5(i::VARCHAR) FROM range(?) r(i)", [rows])
        con.execute("COMMIT")
        return (wal.stat().st_size if wal.exists() else 0) - before
    finally:
        con.close()


def test_a_whole_row_group_skips_the_write_ahead_log(tmp_path):
    whole = _wal_growth(tmp_path, "whole", DUCKDB_ROW_GROUP)
    partial = _wal_growth(tmp_path, "partial", DUCKDB_ROW_GROUP - 1)
    # one row less: ≈ 122,879 × (8 + 32) bytes logged; a whole row group: block pointers only
    assert partial > 40 * (DUCKDB_ROW_GROUP - 1) * 0.9
    assert whole < partial / 20


def _capture(monkeypatch) -> dict[str, int]:
    seen: dict[str, int] = {}

    def fake(store, path, decode=None, *, batch_size, **kw):
        seen["batch_size"] = batch_size
        return bulk.ImportSummary(source=str(path))

    monkeypatch.setattr(bulk, "import_packet_file", fake)
    return seen


def test_cli_default_transaction_is_import_batch(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    f = tmp_path / "p.txt"
    f.write_bytes(b"##0001x\n")
    res = runner.invoke(app, ["import", "packets", str(f), "--db", str(tmp_path / "a.duckdb")])
    assert res.exit_code == 0, res.output
    assert seen["batch_size"] == IMPORT_BATCH
    res = runner.invoke(app, ["import", "packets", str(f), "--db", str(tmp_path / "b.duckdb"),
                              "--batch-size", "7"])
    assert res.exit_code == 0, res.output
    assert seen["batch_size"] == 7

"""A backup holds every acknowledged packet, also those only in the file journal log.

After ``kill -9`` the last records are fsync'd in the segment files and not yet in DuckDB
(the materialiser's lag). ``lantian store backup`` copies the segments beside the export and
``lantian store restore`` puts them beside the new database, where the gateway's catch-up
replays those past the watermark: the restored database ends up with the same rows.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lantian.cli import app
from lantian.errors import ConfigurationError
from lantian.hj212.gwbatch import decode_journal
from lantian.hj212.gwstore import journal_dir
from lantian.store.backup import LOG_FOLDER, restore
from lantian.store.logmaterialise import log_watermark
from test_gateway_materialise_log import _batch, _crash, _frames, _open, _tables

runner = CliRunner()


def _crashed_with_a_tail(db) -> tuple:
    """4 records in DuckDB, 3 more only in the log; returns the watermark."""
    first, tail = _frames(1, range(4)), _frames(2, range(3))
    store = _open(db)
    store.log_batch(_batch(first))
    store.materialise()
    wm = log_watermark(store.con)
    store.log_batch(_batch(tail))
    _crash(store)
    return wm


def _caught_up(db) -> dict:
    store = _open(db)
    try:
        store.catch_up(decode_journal)
        return _tables(store.con)
    finally:
        store.close()


def test_cli_backup_and_restore_keep_the_log_tail(tmp_path):
    db = tmp_path / "a.duckdb"
    wm = _crashed_with_a_tail(db)
    r = runner.invoke(app, ["store", "backup", "--db", str(db), "--out", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "bk"
    assert sorted(p.name for p in (out / LOG_FOLDER).iterdir()) == sorted(
        p.name for p in journal_dir(db).glob("*.seg"))
    new = tmp_path / "r.duckdb"
    r = runner.invoke(app, ["store", "restore", "--from", str(out), "--db", str(new)])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["db"] == str(new)
    store = _open(new)
    try:  # DuckDB as backed up: the first 4 records; the log holds the 3 acknowledged after
        assert log_watermark(store.con) == wm
        assert store.con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 4
        assert len(list(store.log.read(wm))) == 3
    finally:
        store.close()
    assert _caught_up(new) == _caught_up(db)  # all 7, the same ids and rows
    assert len(_caught_up(new)["packet_journal"]) == 7


def test_restore_refuses_a_journal_folder_that_holds_segments(tmp_path):
    db = tmp_path / "a.duckdb"
    _crashed_with_a_tail(db)
    r = runner.invoke(app, ["store", "backup", "--db", str(db), "--out", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.stderr
    with pytest.raises(ConfigurationError, match="journal-log segments"):
        restore(tmp_path / "bk", tmp_path / "r.duckdb", journal_dir(db))
    assert not (tmp_path / "r.duckdb").exists()

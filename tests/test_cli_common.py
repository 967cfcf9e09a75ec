"""The shared CLI helper ``open_db``: one-line reason on a Lantian error, connection closed."""

from __future__ import annotations

import duckdb
import pytest
import typer

from lantian.commands._common import open_db
from lantian.errors import NotFoundError


def test_open_db_creates_and_closes(db_path):
    with open_db(db_path) as con:
        assert con.execute("SELECT count(*) FROM schema_migration").fetchone()[0] > 0
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_lantian_error_in_block_exits_with_reason(db_path, capsys):
    with pytest.raises(typer.Exit) as exc, open_db(db_path) as con:
        raise NotFoundError("no enterprise named 甲")
    assert exc.value.exit_code == 1
    assert capsys.readouterr().err.strip() == "error: no enterprise named 甲"
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")

"""The journal-log watermark: one row per name, moved by an UPDATE after the first run."""

from __future__ import annotations

from lantian.store.db import connect
from lantian.store.logmaterialise import _set_watermark, log_watermark


def test_watermark_is_inserted_once_then_moved(db_path):
    con = connect(db_path)
    try:
        assert log_watermark(con, "gw") == (0, 0)
        _set_watermark(con, "gw", (1, 500))
        _set_watermark(con, "gw", (2, 64))
        _set_watermark(con, "other", (7, 7))
        assert log_watermark(con, "gw") == (2, 64)
        assert log_watermark(con, "other") == (7, 7)
        rows = con.execute("SELECT name, count(*) FROM journal_log_watermark GROUP BY name "
                           "ORDER BY name").fetchall()
        assert rows == [("gw", 1), ("other", 1)]
    finally:
        con.close()

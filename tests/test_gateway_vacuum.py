"""``[materialise] duckdb_max_vacuum_tasks`` (session 11): a checkpoint that does not rewrite
the row groups earlier checkpoints wrote (DuckDB merges a partly filled row group with the
rows after it at every checkpoint: ≈ 7 µs/packet of CHECKPOINT CPU became 7-40, mean ≈ 19)."""

from __future__ import annotations

import datetime as dt

import pytest

from lantian.errors import ConfigurationError
from lantian.hj212.gwsettings import load_settings
from lantian.hj212.gwstore import GatewayStore, decode_log
from test_gateway_helpers import minute_packet, mn_of

AT = dt.datetime(2024, 3, 1, 9, 0, 0)  # receive time, CST


def _settings_file(tmp_path, line: str):
    from importlib.resources import files

    base = files("lantian.catalog.data").joinpath("gateway.toml").read_text("utf-8")
    base = "\n".join(ln for ln in base.splitlines()
                     if not ln.startswith("duckdb_max_vacuum_tasks"))
    path = tmp_path / "gw.toml"
    path.write_text(base.replace("[materialise]\n", f"[materialise]\n{line}\n", 1), "utf-8")
    return path


def test_the_setting_is_read_checked_and_optional(tmp_path):
    assert load_settings(_settings_file(tmp_path, "duckdb_max_vacuum_tasks = 0")
                         ).duckdb_max_vacuum_tasks == 0
    assert load_settings(_settings_file(tmp_path, "")).duckdb_max_vacuum_tasks is None
    for bad in ("-1", "1.5", "true", '"0"'):
        with pytest.raises(ConfigurationError, match="duckdb_max_vacuum_tasks"):
            load_settings(_settings_file(tmp_path, f"duckdb_max_vacuum_tasks = {bad}"))


def _row_groups_after_two_checkpoints(path, **kw) -> tuple[int, int]:
    store = GatewayStore(path, journal_log=True, **kw)
    try:
        for k in range(2):
            frames = [minute_packet(mn_of(1), 10 * k + m)[1].rstrip(b"\r\n") for m in range(10)]
            store.log_batch(decode_log(frames, ["10.1.1.1:4000"] * 10, [AT] * 10))
            assert store.materialise() == 10
            store.con.execute("CHECKPOINT")
        groups = store.con.execute(
            "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('packet_journal')"
        ).fetchone()[0]
        return int(store.con.execute("SELECT current_setting('max_vacuum_tasks')"
                                     ).fetchone()[0]), int(groups)
    finally:
        store.close()


def test_zero_keeps_the_row_groups_earlier_checkpoints_wrote(tmp_path):
    assert _row_groups_after_two_checkpoints(tmp_path / "a.duckdb", max_vacuum_tasks=0) == (0, 2)
    # DuckDB's default merges them (rewriting the first checkpoint's rows)
    assert _row_groups_after_two_checkpoints(tmp_path / "b.duckdb")[1] == 1


async def test_the_gateway_sets_it_on_its_database(db_path):
    from test_gateway_helpers import start_gateway

    gw, _ = await start_gateway(db_path, duckdb_max_vacuum_tasks=0)
    try:
        assert gw.connection.execute("SELECT current_setting('max_vacuum_tasks')"
                                     ).fetchone()[0] == 0
    finally:
        await gw.stop()

"""The fast import path (engineer "import", session 2) gives the per-packet path's tables.

* the columnar path with integer code/suffix ids from the decoder, the columnar path without
  them (strings factorized by the store, as the gateway's batches are) and the per-packet
  path (``PacketStore.ingest``) write identical tables, in batches small enough that the
  decode-ahead thread overlaps several batches;
* a decoder failure stops the import with the error and keeps every batch committed before;
* progress reports each stored line exactly once.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lantian.errors import InputFileError
from lantian.hj212 import build_packet
from lantian.hj212.bulk import decode_lines
from lantian.hj212.columnar import column_decoder
from lantian.store.bulk import import_packet_lines
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from test_import_packets import MN17, flue_file, odd_packets, stored_tables

ID_KEYS = ("item_code_id", "item_suffix_id", "code_table", "suffix_table")


def extra_packets() -> list[bytes]:
    """MNs of other forms, a 2005 code sent before its 2017 twin, an info item in real time."""
    t = "20240501100000"
    out = [
        build_packet(st="31", cn="2051", pw="123456", mn=mn, data_time=t, qn=t + "000",
                     values={"a21026": {"Avg": 3.5, "Flag": "N"}, "a01012": {"Avg": 120.5}})
        for mn in ("3301000001", "010000a8900016f000169dc0", "33010000010000Z")
    ]
    out.append(build_packet(st="31", cn="2051", pw="1", mn=MN17, data_time="20240501100100",
                            values={"02": {"Avg": 5.0, "Flag": "N"},
                                    "a21026": {"Avg": 6.0, "Flag": "D"}}))
    out.append(build_packet(st="31", cn="2011", pw="1", mn=MN17, data_time="20240501100200",
                            values={"a21026": {"Rtd": 7.0, "Avg": 7.5, "Flag": "N"},
                                    "a19001": {"Rtd": 8.5, "Info": "ok"}}))
    return out


def _without_ids(strict: bool):
    decode = column_decoder(strict)

    def run(lines):
        return {k: v for k, v in decode(lines).items() if k not in ID_KEYS}

    return run


@pytest.mark.parametrize("batch_size", [5, 1000])
def test_three_paths_write_identical_tables(tmp_path, batch_size):
    lines = flue_file(tmp_path / "f.txt", 6) + odd_packets() + extra_packets()
    lines = lines + lines[:5] + [b"##0010garbage", b"not a packet"]
    paths = {
        "packets": {"decode": lambda x: decode_lines(x)},
        "columns+ids": {"decode_columns": column_decoder(True)},
        "columns": {"decode_columns": _without_ids(True)},
    }
    got = {}
    for name, kw in paths.items():
        con = connect(tmp_path / f"{name}.duckdb")
        s = import_packet_lines(PacketStore(con), lines, source="f", batch_size=batch_size, **kw)
        got[name] = ((s.accepted, s.duplicate, s.rejected), stored_tables(con))
        con.close()
    ref = got["packets"]
    assert ref[0] == (len(lines) - 7, 5, 2)  # counted by hand: 5 repeats, 2 garbage lines
    assert len(ref[1]["value_long"]) > 10 and len(ref[1]["flue_minute"]) > 12
    for name in ("columns+ids", "columns"):
        assert got[name][0] == ref[0], name
        for table in ref[1]:
            assert got[name][1][table] == ref[1][table], (name, table)


def test_second_code_for_a_parameter_goes_to_long_in_the_order_sent(tmp_path):
    con = connect(tmp_path / "d.duckdb")
    import_packet_lines(PacketStore(con), extra_packets()[3:4], source="f",
                        decode_columns=column_decoder(True))
    wide = con.execute("SELECT so2_mg_m3, so2_flag, sent_codes FROM flue_minute").fetchall()
    long = con.execute("SELECT code, field, num, text FROM value_long ORDER BY field").fetchall()
    con.close()
    assert wide == [(5.0, "N", "so2=02")]  # "02" came first: it keeps the columns
    assert long == [("a21026", "Avg", 6.0, None), ("a21026", "Flag", None, "D")]


def test_decoder_failure_keeps_the_batches_stored_before(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 10)  # 20 packets
    decode = column_decoder(True)
    calls = []

    def failing(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise InputFileError("decoder broke on the third batch")
        return decode(batch)

    con = connect(tmp_path / "d.duckdb")
    with pytest.raises(InputFileError, match="third batch"):
        import_packet_lines(PacketStore(con), lines, source="f", batch_size=6,
                            decode_columns=failing)
    stored = con.execute("SELECT count(*) FROM packet_journal").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0]
    con.close()
    assert stored == rows == 12  # batches 1 and 2 (6 + 6 packets) were committed


def test_progress_counts_every_line_once(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 11)  # 22 packets
    seen: list[int] = []
    con = connect(tmp_path / "d.duckdb")
    s = import_packet_lines(PacketStore(con), lines, source="f", batch_size=5,
                            decode_columns=column_decoder(True), progress=seen.append)
    con.close()
    assert seen == [5, 5, 5, 5, 2]
    assert s.lines == s.accepted == 22


def test_received_at_is_china_standard_time_now(tmp_path):
    from lantian.store.ingest import cst_now

    lines = flue_file(tmp_path / "f.txt", 2)
    before = cst_now().replace(microsecond=0)
    con = connect(tmp_path / "d.duckdb")
    import_packet_lines(PacketStore(con), lines, source="f", decode_columns=column_decoder(True))
    times = {r[0] for r in con.execute("SELECT received_at FROM packet_journal").fetchall()}
    con.close()
    after = cst_now()
    assert len(times) == 1
    (t,) = times
    assert isinstance(t, dt.datetime) and before <= t <= after



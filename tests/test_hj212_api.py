"""The public names of lantian.hj212 and the code table."""

from __future__ import annotations

import lantian.hj212 as hj212
from lantian.catalog.codes import code_entry, code_table, column_of, data_format, from_2005


def test_exported_members():
    assert set(hj212.__all__) == {
        "FrameError", "Framer", "Packet", "PacketDecodeError", "Reassembler",
        "build_data_reply", "build_packet", "build_request", "crc16_hj212", "crc16_modbus",
        "data_time_to_datetime", "format_number", "frame_segment", "join_parts",
        "parse_packet", "rebuild_packet",
    }
    for name in hj212.__all__:
        assert getattr(hj212, name).__doc__


def test_code_table_rows_and_2005_mapping():
    rows = code_table()
    assert len(rows) == 379
    assert all(r.source and r.confidence for r in rows)
    so2 = code_entry("a21026")
    assert (so2.name_en, so2.unit, so2.amount_unit, so2.code_2005, so2.digits) == (
        "sulphur dioxide", "mg/m3", "kg", "02", (5, 2))
    assert from_2005("S01").code == "a19001"
    assert from_2005("B02").code == "a00000"
    assert from_2005("011").code == "w01018"
    assert code_entry("e10101").code == "e101xx"  # device-number templates
    assert data_format("i33312") == (4, 1)
    assert code_entry("zz9999") is None
    # the standard's own clash is kept and noted
    clash = [r for r in rows if r.code == "g119xx"]
    assert len(clash) == 2 and all("twice" in (r.note or "") for r in clash)


def test_glossary_columns_for_2017_and_2005_codes():
    assert column_of("a21026") == "so2_mg_m3"
    assert column_of("02") == "so2_mg_m3"
    assert column_of("S01") == "o2_pct"
    assert column_of("w01018") is None

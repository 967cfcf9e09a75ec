"""The gateway's batch path (raw frames decoded together) against the per-packet path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from conftest import dataset
from lantian.hj212 import build_data_reply, build_packet, parse_packet
from lantian.hj212.gateway import UPLOAD_CNS
from lantian.hj212.gwbatch import (
    column_batch,
    decode_batch,
    decode_uploads,
    head_of,
    heads_of,
    looks_like_upload,
)
from lantian.hj212.gwstore import GatewayStore, Incoming
from test_gateway_helpers import Client, minute_packet, mn_of, register, start_gateway

UPLOAD_B = frozenset(c.encode() for c in UPLOAD_CNS)
AT = dt.datetime(2024, 3, 1, 9, 0, 0)


def test_looks_like_upload_peeks_the_header_cn():
    _, minute = minute_packet(mn_of(1), 0)
    assert looks_like_upload(minute.rstrip(b"\r\n"), UPLOAD_B)
    _, hour = minute_packet(mn_of(1), 0, cn="2061")
    assert looks_like_upload(hour, UPLOAD_B)
    req = build_packet(st="31", cn="1013", pw="1", mn=mn_of(1), flag=5, qn="20240301080000000")
    assert not looks_like_upload(req, UPLOAD_B)
    split = build_packet(st="31", cn="2051", pw="1", mn=mn_of(1), flag=7,
                         qn="20240301080000000", pnum=2, pno=1,
                         data_time="20240301080000", values={"a21026": {"Avg": 1.0}})
    # a split part is queued with the uploads: the decode of its batch hands it to the
    # per-packet path (test_gateway_sort), the reassembler (test_gateway split messages)
    assert b"PNUM=" in split and looks_like_upload(split, UPLOAD_B)
    assert not looks_like_upload(b"##0010garbage", UPLOAD_B)


def test_looks_like_upload_reads_the_header_only():
    """PNUM/PNO are header fields: the same text inside CP does not leave the batch path."""
    _, minute = minute_packet(mn_of(1), 0)
    frame = minute.rstrip(b"\r\n").replace(b"CP=&&", b"CP=&&PNO=1;PNUM=2;", 1)
    assert b"PNO=" in frame and looks_like_upload(frame, UPLOAD_B)


def test_head_replies_like_the_parsed_packet():
    """9014 built from the batch header is the one built from parse_packet (2017 and 2005)."""
    _, f17 = minute_packet(mn_of(1), 3)
    f05 = build_packet(st="32", cn="2051", pw="123456", mn=mn_of(2), flag=1,
                       data_time="20240301080300", version="2005",
                       values={"02": {"Avg": 20.0, "Flag": "N"}})
    f_noack = minute_packet(mn_of(3), 3, flag=4)[1]
    frames = [f17.rstrip(b"\r\n"), f05, f_noack.rstrip(b"\r\n")]
    d = decode_batch(frames, strict=False)
    now = dt.datetime(2024, 3, 1, 8, 4, 5)
    for i, f in enumerate(frames):
        pkt, head = parse_packet(f, strict=False), head_of(d, i)
        assert (head.mn, head.pw, head.cn, head.qn, head.version, head.data_time) == (
            pkt.mn, pkt.pw, pkt.cn, pkt.qn, pkt.version, pkt.data_time)
        assert head.needs_reply == pkt.needs_reply == (i != 2)
        assert build_data_reply(head, now=now) == build_data_reply(pkt, now=now)
    assert heads_of(d) == [head_of(d, i) for i in range(len(frames))]
    assert heads_of(d)[1] != heads_of(d)[0]


def test_heads_of_keeps_each_rows_parameters():
    """Rows with CP parameters besides DataTime (RF, a re-send) get theirs, the others none."""
    frames = [minute_packet(mn_of(i), i)[1].rstrip(b"\r\n") for i in range(3)]
    frames[1] = build_packet(st="31", cn="2051", pw="123456", mn=mn_of(1), flag=5,
                             qn="20240301080100000", data_time="20240301080100",
                             params={"RF": "1"}, values={"a21026": {"Avg": 1.0}}).rstrip(
                                 b"\r\n")
    d = decode_uploads(frames)
    heads = heads_of(d)
    assert heads == [head_of(d, i) for i in range(3)]
    assert [h.params for h in heads] == [{}, {"RF": "1"}, {}]
    assert [h.mn for h in heads] == [mn_of(i) for i in range(3)]


def _frames(n_sim: int) -> list[bytes]:
    """Uploads from the public simulator log, our minute/hour/day packets, retransmissions."""
    path = dataset("hj212-simulator-log") / "packets.txt"
    sim = [ln.rstrip(b"\r\n") for ln in path.read_bytes().split(b"\n") if ln.strip()]
    sim = [f for f in sim if looks_like_upload(f, UPLOAD_B)][:n_sim]
    ours = [minute_packet(mn_of(i % 3), i, cn=cn, so2=1.5 * i)[1].rstrip(b"\r\n")
            for i, cn in enumerate(["2051", "2061", "2031", "2051", "2011"] * 4)]
    frames = sim + ours
    return frames + frames[:7] + ours[:5]  # retransmissions: duplicates in the same batch


def _tables(store: GatewayStore) -> dict[str, list[tuple]]:
    con = store.con
    out = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
           for t in ("flue_rtd", "flue_minute", "flue_hour", "flue_day", "value_long",
                     "packet_journal")}
    out["packet_key"] = con.execute(  # keys by QN (no DataTime) carry the commit time
        "SELECT * REPLACE (CASE WHEN k LIKE 'QN:%' THEN NULL ELSE ts END AS ts) "
        "FROM packet_key ORDER BY ALL").fetchall()
    return out


def test_batch_and_per_packet_paths_store_identical_rows(tmp_path):
    frames = _frames(400)
    d = decode_uploads(frames)  # what the gateway's writer decodes with
    rows = [i for i in range(len(frames)) if d.ok[i] and d.crc_ok[i]]
    assert len(rows) == len(frames)  # every frame here is a good upload

    per_packet = GatewayStore(tmp_path / "p.duckdb")
    v1 = per_packet.store_batch([Incoming(parse_packet(f, strict=False), f, "peer:1", AT)
                                 for f in frames])
    batch = GatewayStore(tmp_path / "b.duckdb")
    cb = column_batch(d, rows, frames, ["peer:1"] * len(frames), [AT] * len(frames))
    v2 = batch.store_batch(cb)
    try:
        assert v1 == v2
        seen, dups = set(), 0  # retransmission = same (MN, CN, DataTime), or QN without one
        for f in frames:
            p = parse_packet(f, strict=False)
            key = (p.mn, p.cn, p.data_time or "QN:" + (p.qn or ""))
            dups += key in seen
            seen.add(key)
        assert dups >= 12  # at least our own 12 retransmissions
        assert v1.count("duplicate") == dups and v1.count("accepted") == len(frames) - dups
        # journal-first: the batch path's values are written by the materialiser
        assert batch.materialiser.pending_packets == v2.count("accepted")
        assert batch.con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0
        assert batch.materialise() == v2.count("accepted")
        t1, t2 = _tables(per_packet), _tables(batch)
        for name in t1:
            assert t1[name] == t2[name], name
        assert len(t1["flue_minute"]) == 8 and len(t1["flue_rtd"]) == 4
        assert len(t1["value_long"]) > 1000  # the simulator log's values are stored too
    finally:
        per_packet.close()
        batch.close()


def test_column_batch_keeps_only_the_selected_rows(tmp_path):
    frames = [minute_packet(mn_of(1), i, so2=float(i))[1].rstrip(b"\r\n") for i in range(4)]
    d = decode_batch(frames, strict=False)
    cb = column_batch(d, [3, 1], [frames[3], frames[1]], ["a", "b"], [AT, AT])
    assert cb.mn == [mn_of(1)] * 2 and cb.data_time == ["20240301080300", "20240301080100"]
    # two values (a21026 Avg+Flag, a19001 Avg+Flag) per packet, rows renumbered 0 and 1
    assert sorted(cb.item_row.tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    so2 = {int(r): v for r, c, s, v in zip(cb.item_row, cb.item_code, cb.item_suffix,
                                            cb.item_num, strict=True)
           if c == "a21026" and s == "Avg"}
    assert so2 == {0: 3.0, 1: 1.0}


def test_column_batch_of_every_row_is_the_rows_picked_from_a_larger_decode():
    """The whole-batch shortcut (every row, in order) gives the batch the row picking gives."""
    frames = [minute_packet(mn_of(i % 2), i, so2=float(i))[1].rstrip(b"\r\n") for i in range(5)]
    extra = minute_packet(mn_of(3), 9)[1].rstrip(b"\r\n")
    n = len(frames)
    whole = column_batch(decode_batch(frames, strict=False), range(n), frames, ["a"] * n,
                         [AT] * n)
    picked = column_batch(decode_batch([*frames, extra], strict=False), range(n), frames,
                          ["a"] * n, [AT] * n)
    for name in whole.__dataclass_fields__:
        a, b = getattr(whole, name), getattr(picked, name)
        assert type(a) is type(b), name
        if isinstance(a, np.ndarray):  # NaN (text fields' numbers) equal to NaN
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a == b, name


@pytest.mark.timeout(60)
async def test_mixed_traffic_on_one_connection_goes_both_ways(db_path):
    """Plain uploads (batch path), a wrong CRC and a wrong password (back to per packet)."""
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:
        c = await Client().connect(port)
        qns = []
        for m in range(20):
            qn, raw = minute_packet(mn_of(1), m)
            qns.append(qn)
            await c.send(raw)
        bad_qn, bad = minute_packet(mn_of(1), 30)
        await c.send(bad[:-6] + (b"0000" if bad[-6:-2] != b"0000" else b"1111") + b"\r\n")
        _, wrong = minute_packet(mn_of(1), 31, pw="nope")
        await c.send(wrong)
        for qn in qns:
            assert await c.wait_for("9014", timeout=10, qn=qn) is not None
        assert await c.wait_for("9014", timeout=0.3, qn=bad_qn) is None
        counts = gw.status.counts
        # journalled: acknowledged after the file journal's fsync (de-dup follows in DuckDB)
        assert counts["accepted"] + counts["journalled"] == 20 and counts["acked"] == 20
        assert counts["bad_packets"] == 1, dict(counts)  # wrong CRC: dropped, no reply
        assert counts["rejected_wrong_password"] == 1, dict(counts)
        await c.close()
    finally:
        await gw.stop()


def test_gateway_store_sets_the_checkpoint_threshold(tmp_path):
    """The write-ahead log size before DuckDB checkpoints comes from gateway.toml."""
    from lantian.hj212.gwsettings import load_settings

    mib = load_settings().checkpoint_threshold_mib
    assert mib >= 16
    store = GatewayStore(tmp_path / "c.duckdb", checkpoint_threshold_mib=mib)
    try:
        got = store.con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]
        assert got == f"{float(mib)} MiB"
    finally:
        store.close()

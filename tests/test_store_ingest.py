"""The store API used by the gateway and the importer (PacketStore.ingest)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from lantian.errors import StoreError
from lantian.store.db import connect
from lantian.store.ingest import Incoming, PacketStore, parse_data_time
from lantian.store.traffic import (
    RejectedTraffic,
    free_space_ok,
    log_rejected_traffic,
    rejected_traffic_counts,
)


@dataclass(frozen=True)
class P:
    """A decoded packet as the store sees it (the codec's Packet has these attributes)."""

    mn: str | None
    cn: str | None
    data_time: str | None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    st: str | None = "31"
    qn: str | None = None
    version: str | None = "2017"


RX = dt.datetime(2024, 5, 1, 10, 0, 5)


def inc(p, raw=b"##raw", source="10.0.0.1:5000"):
    return Incoming(raw=raw, source=source, received_at=RX, packet=p)


def minute(mn="MN1", t="20240501095900", so2=12.3, **extra):
    vals = {
        "a21026": {"Avg": so2, "Min": 10.0, "Max": 14.0, "ZsAvg": 15.1, "Flag": "N"},
        "a19001": {"Avg": 8.5, "Flag": "N"},
    }
    vals.update(extra)
    return P(mn, "2051", t, vals)


@pytest.fixture
def con(db_path):
    c = connect(db_path)
    yield c
    c.close()


def test_minute_packet_lands_in_wide_columns(con):
    store = PacketStore(con)
    [v] = store.ingest([inc(minute())])
    assert v.verdict == "accepted" and v.stored
    row = con.execute(
        "SELECT mn, ts, packet_id, so2_mg_m3, so2_min, so2_max, so2_zs, so2_flag, o2_pct, "
        "sent_codes FROM flue_minute"
    ).fetchall()
    assert row == [
        ("MN1", dt.datetime(2024, 5, 1, 9, 59), v.packet_id, 12.3, 10.0, 14.0, 15.1, "N", 8.5, None)
    ]
    j = con.execute(
        "SELECT received_at, source, mn, cn, data_time, verdict, raw FROM packet_journal"
    ).fetchall()
    assert j == [
        (RX, "10.0.0.1:5000", "MN1", "2051", dt.datetime(2024, 5, 1, 9, 59), "accepted", b"##raw")
    ]
    assert con.execute("SELECT count(*) FROM value_long").fetchone()[0] == 0


def test_each_cn_goes_to_its_table(con):
    store = PacketStore(con)
    store.ingest(
        [
            inc(P("MN1", "2011", "20240501100000", {"a21026": {"Rtd": 1.0}})),
            inc(P("MN1", "2051", "20240501100000", {"a21026": {"Avg": 2.0}})),
            inc(P("MN1", "2061", "20240501100000", {"a21026": {"Avg": 3.0}})),
            inc(P("MN1", "2031", "20240501000000", {"a21026": {"Avg": 4.0}})),
        ]
    )
    got = [
        con.execute(f"SELECT so2_mg_m3 FROM {t}").fetchall()
        for t in ("flue_rtd", "flue_minute", "flue_hour", "flue_day")
    ]
    assert got == [[(1.0,)], [(2.0,)], [(3.0,)], [(4.0,)]]


def test_foreign_suffix_unknown_codes_and_info_go_to_value_long(con):
    store = PacketStore(con)
    p = P(
        "MN1",
        "2011",
        "20240501100000",
        {
            "a21026": {"Rtd": 1.5, "Avg": 9.9},  # Avg in real-time data: kept as sent, long
            "w01018": {"Rtd": 234.0, "Flag": "N"},  # water code, not in the glossary
            "i12001": {"Info": "0"},
            "SB1": {"RS": 1.0},
            "a19001": {"Rtd": "bad"},  # text where a number is expected
        },
    )
    [v] = store.ingest([inc(p)])
    assert con.execute("SELECT so2_mg_m3, o2_pct FROM flue_rtd").fetchall() == [(1.5, None)]
    long = con.execute(
        "SELECT packet_id, cn, ts, code, field, num, text FROM value_long ORDER BY code, field"
    ).fetchall()
    ts = dt.datetime(2024, 5, 1, 10)
    assert long == [
        (v.packet_id, "2011", ts, "SB1", "RS", 1.0, None),
        (v.packet_id, "2011", ts, "a19001", "Rtd", None, "bad"),
        (v.packet_id, "2011", ts, "a21026", "Avg", 9.9, None),
        (v.packet_id, "2011", ts, "i12001", "Info", None, "0"),
        (v.packet_id, "2011", ts, "w01018", "Flag", None, "N"),
        (v.packet_id, "2011", ts, "w01018", "Rtd", 234.0, None),
    ]


def test_water_only_packet_has_no_wide_row(con):
    store = PacketStore(con)
    store.ingest([inc(P("W1", "2011", "20240501100000", {"w01018": {"Rtd": 1.0}}))])
    assert con.execute("SELECT count(*) FROM flue_rtd").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM value_long").fetchone()[0] == 1


def test_2005_codes_share_columns_and_keep_the_sent_code(con):
    store = PacketStore(con)
    p = P(
        "1234567ABCDEFG",
        "2051",
        "20240501095900",
        {"02": {"Avg": 20.0, "Flag": "N"}, "S01": {"Avg": 7.0}, "a21002": {"Avg": 30.0}},
        version="2005",
    )
    store.ingest([inc(p)])
    row = con.execute("SELECT so2_mg_m3, so2_flag, o2_pct, nox_mg_m3, sent_codes FROM flue_minute")
    assert row.fetchall() == [(20.0, "N", 7.0, 30.0, "so2=02;o2=S01")]


def test_same_parameter_under_two_codes_keeps_the_second_in_long(con):
    store = PacketStore(con)
    p = P("MN1", "2051", "20240501095900", {"a21026": {"Avg": 1.0}, "02": {"Avg": 2.0}})
    store.ingest([inc(p)])
    assert con.execute("SELECT so2_mg_m3, sent_codes FROM flue_minute").fetchall() == [(1.0, None)]
    assert con.execute("SELECT code, field, num FROM value_long").fetchall() == [("02", "Avg", 2.0)]


def test_retransmission_is_journalled_as_duplicate_and_not_written_again(con):
    store = PacketStore(con)
    first = store.ingest([inc(minute(so2=12.3))])
    # same (MN, CN, DataTime) again: in the same batch and in a later one
    again = store.ingest(
        [inc(minute(so2=99.0)), inc(minute(so2=98.0)), inc(minute(t="20240501100000"))]
    )
    assert [v.verdict for v in first + again] == ["accepted", "duplicate", "duplicate", "accepted"]
    assert all(v.stored for v in again)
    rows = con.execute("SELECT ts, so2_mg_m3 FROM flue_minute ORDER BY ts").fetchall()
    assert rows == [(dt.datetime(2024, 5, 1, 9, 59), 12.3), (dt.datetime(2024, 5, 1, 10, 0), 12.3)]
    verdicts = con.execute("SELECT verdict FROM packet_journal ORDER BY id").fetchall()
    assert [v[0] for v in verdicts] == ["accepted", "duplicate", "duplicate", "accepted"]


def test_duplicate_survives_reopen(db_path):
    c = connect(db_path)
    PacketStore(c).ingest([inc(minute())])
    c.close()
    c = connect(db_path)
    [v] = PacketStore(c).ingest([inc(minute())])
    assert v.verdict == "duplicate" and v.packet_id == 2
    c.close()


def test_same_time_other_mn_or_cn_is_not_a_duplicate(con):
    store = PacketStore(con)
    vs = store.ingest(
        [inc(minute()), inc(minute(mn="MN2")), inc(P("MN1", "2061", "20240501095900", {}))]
    )
    assert [v.verdict for v in vs] == ["accepted"] * 3


def test_packets_without_datatime_deduplicated_by_qn(con):
    store = PacketStore(con)
    a = P("MN1", "9014", None, qn="20240501100000123")
    vs = store.ingest([inc(a), inc(a), inc(P("MN1", "9014", None, qn="20240501100000999"))])
    assert [v.verdict for v in vs] == ["accepted", "duplicate", "accepted"]
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 3


def test_undecodable_items_are_journalled_rejected_with_raw_bytes(con):
    store = PacketStore(con)
    vs = store.ingest(
        [
            Incoming(b"##garbage", "file:x:3", RX, error="CRC mismatch"),
            inc(P("MN1", "2051", "20241301000000", {"a21026": {"Avg": 1.0}})),
            inc(minute()),
        ]
    )
    assert vs[0].verdict == "rejected:CRC mismatch" and not vs[0].stored
    assert vs[1].verdict.startswith("rejected:DataTime '20241301000000'")
    assert vs[2].verdict == "accepted"
    raw = con.execute("SELECT raw FROM packet_journal WHERE id = ?", [vs[0].packet_id]).fetchone()
    assert raw == (b"##garbage",)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 1


def test_failed_batch_stores_nothing_and_store_recovers(con):
    store = PacketStore(con)
    store.ingest([inc(minute())])
    # a wide row already there for (MN1, 10:00) without a key: the batch must fail whole
    con.execute(
        "INSERT INTO flue_minute (mn, ts, packet_id) VALUES ('MN1', '2024-05-01 10:00:00', 0)"
    )
    with pytest.raises(StoreError):
        store.ingest([inc(minute(t="20240501100100")), inc(minute(t="20240501100000"))])
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM packet_key").fetchone()[0] == 1
    [v] = store.ingest([inc(minute(t="20240501100100"))])
    assert v.verdict == "accepted" and v.packet_id == 2


def test_parse_data_time():
    assert parse_data_time("20240229235959") == dt.datetime(2024, 2, 29, 23, 59, 59)
    for bad in ("2024022923595", "20230229000000", "2024-02-29T00", ""):
        with pytest.raises(ValueError):
            parse_data_time(bad)


def test_rejected_traffic_is_stored_only_there(con):
    n = log_rejected_traffic(
        con,
        [
            RejectedTraffic("1.2.3.4:1", "NOPE", "unknown_mn", b"##0100" + b"x" * 200),
            RejectedTraffic("1.2.3.4:1", "MN1", "wrong_password", b"##0100"),
            RejectedTraffic("1.2.3.4:2", "NOPE", "unknown_mn", b"##"),
        ],
    )
    assert n == 3
    assert rejected_traffic_counts(con) == {"unknown_mn": 2, "wrong_password": 1}
    heads = [r[0] for r in con.execute("SELECT head FROM rejected_traffic ORDER BY id").fetchall()]
    assert len(heads[0]) == 64
    for t in ("packet_journal", "flue_rtd", "flue_minute", "value_long", "packet_key"):
        assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0


def test_free_space_ok(tmp_path):
    import shutil

    free = shutil.disk_usage(tmp_path).free
    assert free_space_ok(tmp_path / "not" / "yet" / "db.duckdb", 1)
    assert not free_space_ok(tmp_path, free * 10 + 1)


def test_protocol_last_seen_is_recorded_for_registered_points(con):
    from lantian.ledger.registry import add_point, get_point

    add_point(con, mn="MN1", password="1")
    store = PacketStore(con)
    store.ingest([inc(minute())])
    assert get_point(con, "MN1").protocol == "2017"
    p = P("MN1", "2051", "20240501100000", {"02": {"Avg": 1.0}}, version="2005")
    store.ingest([inc(p), inc(minute(mn="UNREGISTERED"))])
    assert get_point(con, "MN1").protocol == "2005"
    assert con.execute("SELECT count(*) FROM monitoring_point").fetchone()[0] == 1



def test_protocol_written_again_only_when_it_changes(con):
    """Each change of version is recorded; repeats of the recorded version write nothing."""
    from lantian.ledger.registry import add_point, get_point

    add_point(con, mn="MN1", password="1")
    store = PacketStore(con)
    seq = [("2017", "20240501100000"), ("2005", "20240501100100"),
           ("2017", "20240501100200"), ("2017", "20240501100300")]
    for version, t in seq:
        store.ingest([inc(P("MN1", "2051", t, {"a21026": {"Avg": 1.0}}, version=version))])
        assert get_point(con, "MN1").protocol == version
    # a repeat of the version this store recorded last issues no UPDATE: an outside reset
    # (registry edit) stays until the logger's version changes
    con.execute("UPDATE monitoring_point SET protocol = NULL WHERE mn = 'MN1'")
    store.ingest([inc(P("MN1", "2051", "20240501100400", {"a21026": {"Avg": 1.0}}))])
    assert get_point(con, "MN1").protocol is None


def test_protocol_of_a_rolled_back_batch_is_not_remembered(con, monkeypatch):
    from lantian.errors import StoreError
    from lantian.ledger.registry import add_point, get_point

    add_point(con, mn="MN1", password="1")
    store = PacketStore(con)

    real = store._note_protocol

    def noted_then_failed(*args, **kwargs):
        real(*args, **kwargs)  # the UPDATE ran inside the transaction, then the batch fails
        raise StoreError("disk gone")

    monkeypatch.setattr(store, "_note_protocol", noted_then_failed)
    with pytest.raises(StoreError):
        store.ingest([inc(minute())])
    assert get_point(con, "MN1").protocol is None
    monkeypatch.undo()
    store.ingest([inc(minute())])
    assert get_point(con, "MN1").protocol == "2017"

def test_committed_batch_survives_kill_9(db_path):
    """What ingest() returned is durable: the process is SIGKILLed right after, no checkpoint."""
    import signal
    import subprocess
    import sys

    code = """
import sys, datetime as dt
from dataclasses import dataclass, field
from lantian.store.db import connect
from lantian.store.ingest import Incoming, PacketStore

@dataclass(frozen=True)
class P:
    mn: str; cn: str; data_time: str; values: dict
    st: str = "31"; qn: str = None; version: str = "2017"

con = connect(sys.argv[1])
store = PacketStore(con, checkpoint_interval_s=1e9)
t0 = dt.datetime(2024, 5, 1, 10)
items = [Incoming(b"##%d" % i, "peer", None, packet=P("K", "2051",
         (t0 + dt.timedelta(minutes=i)).strftime("%Y%m%d%H%M%S"), {"a21026": {"Avg": float(i)}}))
         for i in range(100)]
vs = store.ingest(items)
print(sum(v.stored for v in vs), flush=True)
sys.stdin.read()  # wait to be killed
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "100"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    con = connect(db_path)
    assert con.execute("SELECT count(*), sum(so2_mg_m3) FROM flue_minute").fetchone() == (
        100,
        float(sum(range(100))),
    )
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 100
    con.close()

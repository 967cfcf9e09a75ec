"""The journal log (store layer, no protocol): records of opaque bytes in segment files."""

from __future__ import annotations

import datetime as dt
import struct
import zlib

import pytest

from lantian.errors import StoreError
from lantian.store.journal_log import MAGIC, JournalLog, LogRecord, encode_columns, encode_records

T0 = dt.datetime(2024, 3, 1, 8, 0, 0, 123456)  # CST wall-clock


def _recs(n: int, size: int = 40, start: int = 0) -> list[LogRecord]:
    return [LogRecord(bytes([65 + k % 26]) * size, f"10.0.0.{k}:5{k:03d}",
                      T0 + dt.timedelta(seconds=k), meta=b"m%d" % k)
            for k in range(start, start + n)]


def test_append_then_read_back_every_field_and_positions(tmp_path):
    jl = JournalLog(tmp_path / "j")
    seg, ends = jl.append(_recs(3))
    seg2, ends2 = jl.append(_recs(2, start=3))
    assert seg == seg2 == 1
    # by hand: record = 8 (len, crc) + 12 (time, two lengths) + peer + meta + raw
    first = 8 + 12 + len("10.0.0.0:5000") + len(b"m0") + 40
    assert ends[0] == len(MAGIC) + first
    assert ends2[-1] == jl.end[1] == (tmp_path / "j" / "000000001.seg").stat().st_size
    got = list(jl.read((0, 0)))
    assert [r for _, r in got] == _recs(3) + _recs(2, start=3)
    assert [p for p, _ in got] == [(1, e) for e in ends + ends2]
    # from a watermark: only what follows it
    assert [r for _, r in jl.read((1, ends[1]))] == _recs(3)[2:] + _recs(2, start=3)
    assert [r for _, r in jl.read((1, ends[1]), stop=(1, ends[2]))] == _recs(3)[2:]
    assert jl.stats.fsyncs == 2 and jl.stats.records == 5
    jl.close()
    with pytest.raises(StoreError):
        jl.append(_recs(1))


def test_reopen_keeps_appending_after_the_last_record(tmp_path):
    jl = JournalLog(tmp_path / "j")
    jl.append(_recs(2))
    jl.close()
    jl = JournalLog(tmp_path / "j")
    assert jl.stats.truncated_bytes == 0
    jl.append(_recs(1, start=2))
    assert [r for _, r in jl.read((0, 0))] == _recs(3)


@pytest.mark.parametrize("cut", [1, 7, 8, 30])
def test_torn_tail_is_reported_and_truncated_complete_records_kept(tmp_path, cut, caplog):
    jl = JournalLog(tmp_path / "j")
    _, ends = jl.append(_recs(3))
    jl.close()
    path = tmp_path / "j" / "000000001.seg"
    data, _ = encode_records(_recs(1, start=9))
    with path.open("ab") as f:  # a crash mid-write of the 4th record
        f.write(data[:cut])
    jl = JournalLog(tmp_path / "j")
    assert jl.stats.truncated_bytes == cut
    assert "torn tail" in caplog.text
    assert path.stat().st_size == ends[-1]
    assert [r for _, r in jl.read((0, 0))] == _recs(3)
    jl.append(_recs(1, start=3))  # appends go on after the last complete record
    assert [r for _, r in JournalLog(tmp_path / "j").read((0, 0))] == _recs(4)


def test_crc_mismatch_at_the_tail_is_torn_not_read(tmp_path):
    jl = JournalLog(tmp_path / "j")
    _, ends = jl.append(_recs(2))
    jl.close()
    path = tmp_path / "j" / "000000001.seg"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # last payload byte flipped: CRC no longer matches
    path.write_bytes(bytes(data))
    jl = JournalLog(tmp_path / "j")
    assert [r for _, r in jl.read((0, 0))] == _recs(1)
    assert path.stat().st_size == ends[0]


def test_damaged_record_in_an_older_segment_is_reported_not_raised(tmp_path):
    jl = JournalLog(tmp_path / "j", segment_bytes=150)
    jl.append(_recs(2))  # 8 + 2 x 75 bytes: segment 1 passes 150 bytes, rolled
    jl.append(_recs(1, start=2))  # segment 2
    assert jl.segments() == [1, 2]
    p1 = tmp_path / "j" / "000000001.seg"
    data = bytearray(p1.read_bytes())
    length = struct.unpack_from("<I", data, len(MAGIC))[0]
    second = len(MAGIC) + 8 + length
    data[second + 10] ^= 0xFF
    p1.write_bytes(bytes(data))
    got = [r for _, r in jl.read((0, 0))]
    assert got == [_recs(2)[0], _recs(1, start=2)[0]]  # the damaged one only is missing
    assert [(d.segment, d.offset) for d in jl.damaged] == [(1, second)]


def test_segments_roll_and_release_deletes_only_behind_the_watermark(tmp_path):
    jl = JournalLog(tmp_path / "j", segment_bytes=150)
    placed = [jl.append(_recs(2, start=2 * k)) for k in range(3)]
    assert [s for s, _ in placed] == [1, 2, 3] and jl.segments() == [1, 2, 3, 4]
    assert jl.end == (4, len(MAGIC))
    # a watermark inside segment 2: only segment 1 is wholly behind it
    assert jl.release((2, placed[1][1][0])) == 1
    assert jl.segments() == [2, 3, 4]
    # the end of segment 3 is the watermark: 2 goes, 3 stays until it is passed
    assert jl.release((3, placed[2][1][-1])) == 1
    assert jl.segments() == [3, 4]
    assert [r for _, r in jl.read((3, placed[2][1][0]))] == _recs(2, start=4)[1:]
    assert jl.release((99, 0)) == 1  # never the segment being written
    assert jl.segments() == [4]


def test_record_layout_is_length_crc_payload(tmp_path):
    data, ends = encode_records([LogRecord(b"RAW", "p", dt.datetime(1970, 1, 1, 0, 0, 1),
                                           b"")])
    length, crc = struct.unpack_from("<II", data)
    payload = data[8:]
    assert length == len(payload) == 12 + 1 + 3 and crc == zlib.crc32(payload)
    assert struct.unpack_from("<qHH", payload) == (1_000_000, 1, 0)
    assert payload.endswith(b"pRAW") and ends == [len(data)]


def test_columns_encode_the_same_bytes_as_records(tmp_path):
    recs = [LogRecord(b"r%d" % i * 7, "10.0.0.1:9" if i % 2 else "peer-é", T0, b"")
            for i in range(5)]
    assert encode_columns([r.raw for r in recs], [r.peer for r in recs],
                          [r.received_at for r in recs]) == encode_records(recs)
    jl = JournalLog(tmp_path / "j")
    jl.append_columns([r.raw for r in recs], [r.peer for r in recs], [T0] * 5)
    assert [r for _, r in jl.read((0, 0))] == recs


def test_receive_times_round_trip_to_the_microsecond(tmp_path):
    """Receive times before 1970, with microseconds and far ahead come back exactly."""
    times = [dt.datetime(1969, 12, 31, 23, 59, 59, 999_999), dt.datetime(1970, 1, 1),
             dt.datetime(2026, 11, 23, 19, 50, 1, 123_456), dt.datetime(2199, 1, 2, 3, 4, 5, 6)]
    jl = JournalLog(tmp_path / "j")
    jl.append_columns([b"r%d" % i for i in range(4)], ["p"] * 4, times)
    assert [r.received_at for _, r in jl.read((0, 0))] == times
    data, _ = encode_columns([b"x"], ["p"], [times[0]])
    assert struct.unpack_from("<qHH", data, 8) == (-1, 1, 0)

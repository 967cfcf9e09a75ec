"""The multi-process import path (session 3) writes what the sequential paths write.

* decoding and preparing in worker processes (:mod:`lantian.store.bulkpool`), chunks smaller
  than a transaction and transactions of several chunks, give the per-packet path's tables,
  verdicts and counts — duplicates across chunks and across transactions included;
* :meth:`PacketStore.ingest_prepared` with a batch cut into parts equals one part;
* a decoder failing in a worker stops the import with its error and keeps the transactions
  committed before;
* the CLI's ``--workers`` option and its default (none for small files).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lantian.cli import app
from lantian.commands.importing import PARALLEL_FROM, default_workers
from lantian.errors import InputFileError
from lantian.hj212.bulk import decode_lines
from lantian.hj212.columnar import column_decoder, decode_columns
from lantian.store.bulk import (
    import_packet_file,
    import_packet_lines,
    numbered_lines,
    split_block,
)
from lantian.store.bulkpool import import_file_parallel
from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from lantian.store.prepared import prepare_batch
from test_import_packets import MN17, flue_file, odd_packets, stored_tables
from test_import_pipeline import extra_packets

runner = CliRunner()


def mixed_lines(tmp_path) -> list[bytes]:
    lines = flue_file(tmp_path / "f.txt", 6) + odd_packets() + extra_packets()
    # repeats: inside a chunk, across chunks, across transactions; and two garbage lines
    lines = lines + lines[:5] + [b"##0010garbage", b"not a packet"] + lines[3:4]
    return [ln.rstrip(b"\r\n") for ln in lines]


def fail_on_third_chunk(lines: Sequence[bytes]) -> dict[str, Any]:
    """Return the columns of ``lines``; fail on the 13th line of :func:`flue_file`.

    (The 2017 logger's 09:36 packet; a module-level function, so it pickles.)
    """
    if lines and b"DataTime=20240501093600" in lines[0] and MN17.encode() in lines[0]:
        raise InputFileError("decoder broke on the third chunk")
    return decode_columns(lines)


def test_worker_processes_write_the_tables_of_the_per_packet_path(tmp_path):
    lines = mixed_lines(tmp_path)
    con = connect(tmp_path / "ref.duckdb")
    ref = import_packet_lines(PacketStore(con), lines, decode_lines, source="f", batch_size=4)
    ref_tables = stored_tables(con)
    con.close()
    con = connect(tmp_path / "seq.duckdb")  # the sequential columnar path: same summary text
    seq = import_packet_lines(PacketStore(con), lines, source="f", batch_size=4,
                              decode_columns=column_decoder(True))
    con.close()
    progress: list[int] = []
    path = tmp_path / "in.txt"
    path.write_bytes(b"\n".join(lines))  # no LF after the last line
    con = connect(tmp_path / "par.duckdb")
    got = import_file_parallel(PacketStore(con), path, column_decoder(True), source="f",
                               workers=2, batch_size=7, chunk_bytes=700,
                               progress=progress.append)
    got_tables = stored_tables(con)
    con.close()
    counts = (ref.accepted, ref.duplicate, ref.rejected)
    assert counts == (len(lines) - 8, 6, 2)  # by hand: 5 + 1 repeats, 2 garbage lines
    assert (got.accepted, got.duplicate, got.rejected) == counts
    assert got.rejected_by_reason == seq.rejected_by_reason
    assert got.rejected_lines == seq.rejected_lines == ref.rejected_lines
    assert sum(progress) == len(lines) and len(progress) > 3
    assert all(n >= 7 for n in progress[:-1])  # whole blocks until a transaction has 7 lines
    for table in ref_tables:
        assert got_tables[table] == ref_tables[table], table


def test_ingest_prepared_in_parts_equals_one_part(tmp_path):
    lines = mixed_lines(tmp_path)
    decoded = decode_columns(lines)

    def batch(lo: int, hi: int) -> ColumnBatch:
        keep = (decoded["item_row"] >= lo) & (decoded["item_row"] < hi)
        part = {k: (v[lo:hi] if isinstance(v, list) else v) for k, v in decoded.items()}
        part["ok"] = decoded["ok"][lo:hi]
        for k in ("item_code", "item_suffix", "item_num", "item_text", "item_code_id",
                  "item_suffix_id", "item_text_id"):
            part[k] = decoded[k][keep]
        part["item_row"] = decoded["item_row"][keep] - lo
        return ColumnBatch(raw=lines[lo:hi], source=[f"file:f:{i + 1}" for i in range(lo, hi)],
                           received_at=[None] * (hi - lo), **part)

    out = {}
    for name, cuts in (("one", [0, len(lines)]), ("parts", [0, 5, 6, 20, len(lines)])):
        con = connect(tmp_path / f"{name}.duckdb")
        store = PacketStore(con)
        parts = [prepare_batch(batch(a, b)) for a, b in itertools.pairwise(cuts)]
        verdicts = store.ingest_prepared(parts)
        out[name] = ([(v.packet_id, v.verdict) for v in verdicts], stored_tables(con))
        con.close()
    assert out["parts"][0] == out["one"][0]
    assert [v for _, v in out["one"][0]].count("duplicate") == 6
    for table in out["one"][1]:
        assert out["parts"][1][table] == out["one"][1][table], table


def test_prepared_batch_keeps_raw_bytes_unchanged(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 2)
    cb = ColumnBatch(raw=lines, source=["s"] * 4, received_at=[None] * 4, **decode_columns(lines))
    p = prepare_batch(cb, with_raw=False)
    assert "raw" not in p.journal.column_names
    assert p.with_raw(lines).journal.column("raw").to_pylist() == lines
    with pytest.raises(ValueError, match="3 raw lines for a batch of 4"):
        p.with_raw(lines[:3])
    assert np.array_equal(prepare_batch(cb).journal.column("raw").to_pylist(), lines)


def test_decoder_failure_in_a_worker_keeps_the_transactions_before(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 10)  # 20 packets, CRLF-terminated
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    con = connect(tmp_path / "d.duckdb")
    with pytest.raises(InputFileError, match="third chunk"):  # blocks of one line each
        import_file_parallel(PacketStore(con), path, fail_on_third_chunk, source="f",
                             workers=1, batch_size=6, chunk_bytes=1)
    stored = con.execute("SELECT count(*) FROM packet_journal").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0]
    con.close()
    assert stored == rows == 12  # two transactions of 6 lines were committed


def test_cli_workers_option_gives_the_same_tables(tmp_path):
    lines = mixed_lines(tmp_path)
    path = tmp_path / "in.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = {}
    for w in ("0", "2"):
        db = tmp_path / f"w{w}.duckdb"
        res = runner.invoke(app, ["import", "packets", str(path), "--db", str(db),
                                  "--workers", w, "--batch-size", "5", "--format", "json"])
        assert res.exit_code == 0, res.output
        con = connect(db)
        out[w] = (json.loads(res.stdout.strip().splitlines()[-1]), stored_tables(con))
        con.close()
    s0, s2 = out["0"][0], out["2"][0]
    for k in ("lines", "accepted", "duplicate", "rejected", "rejected_by_reason"):
        assert s0[k] == s2[k], k
    for table in out["0"][1]:
        assert out["2"][1][table] == out["0"][1][table], table


def test_import_packet_file_with_workers(tmp_path):
    lines = [ln.rstrip(b"\r\n") for ln in flue_file(tmp_path / "f.txt", 5)]
    path = tmp_path / "in.txt"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n\n")
    con = connect(tmp_path / "d.duckdb")
    s = import_packet_file(PacketStore(con), path, decode_columns=column_decoder(True),
                           workers=1, batch_size=4)
    raw = [r[0] for r in con.execute("SELECT raw FROM packet_journal ORDER BY id").fetchall()]
    con.close()
    assert (s.lines, s.accepted) == (10, 10)
    assert raw == lines  # CR and blank line dropped, bytes otherwise unchanged


def test_split_block_follows_the_line_rules():
    block = b"##a\r\n\n  \n##b\tcomment\n##c"
    assert split_block(block, 5) == ([5, 8, 9], [b"##a", b"##b", b"##c"])
    assert split_block(b"##a\n##b\n", 1) == (range(1, 3), [b"##a", b"##b"])
    lines = [b"##a\r\n", b"\n", b"  \n", b"##b\tcomment\n", b"##c"]
    assert list(numbered_lines(lines)) == [(1, b"##a"), (4, b"##b"), (5, b"##c")]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"#", b"a", b"\r", b"\n", b"\t", b" ", b"\x0b"]),
                max_size=16).map(b"".join), st.integers(1, 10**6))
def test_split_block_equals_the_line_by_line_rules(block, first):
    lines = [ln + b"\n" for ln in block.split(b"\n")]
    lines[-1] = lines[-1][:-1]  # the file's last line may lack its LF
    want = [(n + first - 1, text) for n, text in numbered_lines(lines)]
    numbers, got = split_block(block, first)
    assert list(zip(numbers, got, strict=True)) == want


def _parts_one_broken(tmp_path, cut: int):
    """Prepared parts of a 6-packet file: lines [0, cut), [cut, 5) with a column the table
    lacks (its INSERT fails), [5, 6) and [cut, 6) whole."""
    import dataclasses

    import pyarrow as pa

    lines = [ln.rstrip(b"\r\n") for ln in flue_file(tmp_path / "f.txt", 3)]  # 6 packets

    def part(lo: int, hi: int):
        raws = lines[lo:hi]
        return prepare_batch(ColumnBatch(raw=raws, source=["s"] * len(raws),
                                         received_at=[None] * len(raws),
                                         **decode_columns(raws)))

    bad = part(cut, 5)
    frame = bad.wide["flue_minute"]
    broken = frame.append_column("no_such_column", pa.array([1.0] * frame.num_rows))
    return part(0, cut), dataclasses.replace(bad, wide={"flue_minute": broken}), part(5, 6)


def test_store_stream_error_counts_the_lines_up_to_the_failing_part(tmp_path):
    """A streamed transaction's error names the lines offered up to the part that failed."""
    from lantian.errors import StoreError

    good, bad, last = _parts_one_broken(tmp_path, 2)
    taken = []

    def parts():
        for p in (good, bad, last):
            taken.append(p.n)
            yield p

    con = connect(tmp_path / "d.duckdb")
    store = PacketStore(con)
    with pytest.raises(StoreError, match="batch of 5 packets not stored"):
        store.store_stream(parts())
    count = con.execute("SELECT count(*) FROM packet_journal").fetchone()[0]
    con.close()
    assert taken == [2, 3] and count == 0  # the last part was never taken


def test_default_workers():
    assert default_workers(PARALLEL_FROM) == 0
    assert 1 <= default_workers(PARALLEL_FROM + 1) <= 4


def test_ingest_prepared_stores_nothing_when_a_later_part_fails(tmp_path):
    from lantian.errors import StoreError

    good, bad, last = _parts_one_broken(tmp_path, 3)
    con = connect(tmp_path / "d.duckdb")
    store = PacketStore(con)
    with pytest.raises(StoreError, match="batch of 6 packets not stored"):
        store.ingest_prepared([good, bad, last])
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("packet_journal", "packet_key", "flue_minute")]
    # the store goes on: the same good part is accepted afterwards, ids from 1
    verdicts = store.ingest_prepared([good])
    con.close()
    assert counts == [0, 0, 0]
    assert [(v.packet_id, v.verdict) for v in verdicts] == [(i, "accepted") for i in (1, 2, 3)]

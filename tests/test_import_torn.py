"""Torn and oversized lines in a packet file (issue 2, ``lantian import packets``).

A file cut while it was copied (a packet torn in the middle, the last line without its LF),
a line far longer than a worker's block (garbage, or two packets run together) and the
line rules (CRLF, TAB comments, blank lines) must give the same journal, tables and
rejected-line summary on the parallel path (blocks of a few hundred bytes, so the long
line spans many of them) as on the sequential one, with the file's own line numbers —
and every line kept unchanged in the journal, rejected ones too.
"""

from __future__ import annotations

import duckdb
from typer.testing import CliRunner

from lantian.cli import app
from lantian.hj212.columnar import column_decoder
from lantian.store.bulk import import_packet_file
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from test_import_packets import flue_file, stored_tables

runner = CliRunner()

#: Longer than many blocks of the parallel run below (``chunk_bytes=300``) [bytes].
LONG = 20_000


def torn_file(tmp_path) -> tuple[bytes, dict[int, bytes]]:
    """The file's bytes and, by line number (from 1), the lines that must be rejected."""
    good = [ln.rstrip(b"\r\n") for ln in flue_file(tmp_path / "f.txt", 4)]  # 8 packets
    lines = [
        good[0],  # 1
        good[1][: len(good[1]) // 2],  # 2 torn in the middle
        good[2] + b"\r",  # 3 CRLF line end: accepted
        b"##" + b"9" * LONG,  # 4 oversized garbage
        b"",  # 5 blank: skipped, still counted as a line number
        good[3] + b"\tcopied 2024-05-02",  # 6 TAB comment: ignored
        good[4] + good[5],  # 7 two packets run together (no LF between)
        good[6],  # 8
        good[7][:-10],  # 9 torn at the end of the file, no LF after it
    ]
    rejected = {2: lines[1], 4: lines[3], 7: lines[6], 9: lines[8]}
    return b"\n".join(lines), rejected


def _import(tmp_path, name: str, data: bytes, **kw):
    path = tmp_path / "torn.txt"
    path.write_bytes(data)
    con = connect(tmp_path / f"{name}.duckdb")
    try:
        summary = import_packet_file(
            PacketStore(con), path, decode_columns=column_decoder(True), batch_size=3, **kw
        )
        return summary, stored_tables(con)
    finally:
        con.close()


def test_torn_and_oversized_lines_parallel_equals_sequential(tmp_path):
    data, rejected = torn_file(tmp_path)
    seq, seq_tables = _import(tmp_path, "seq", data, workers=0)
    par, par_tables = _import_parallel(tmp_path, data)
    # by hand: 9 lines, 1 blank; lines 1, 3, 6, 8 accepted; 2, 4, 7, 9 rejected
    assert (seq.lines, seq.accepted, seq.duplicate, seq.rejected) == (8, 4, 0, 4)
    assert (par.lines, par.accepted, par.duplicate, par.rejected) == (8, 4, 0, 4)
    assert [r.line for r in par.rejected_lines] == sorted(rejected)
    assert par.rejected_lines == seq.rejected_lines
    assert par.rejected_by_reason == seq.rejected_by_reason
    assert sum(par.rejected_by_reason.values()) == 4
    for table in seq_tables:
        assert par_tables[table] == seq_tables[table], table


def _import_parallel(tmp_path, data: bytes):
    from lantian.store.bulkpool import import_file_parallel

    path = tmp_path / "torn-par.txt"
    path.write_bytes(data)
    con = connect(tmp_path / "par.duckdb")
    try:
        summary = import_file_parallel(
            PacketStore(con),
            path,
            column_decoder(True),
            source="torn.txt",
            workers=2,
            batch_size=3,
            chunk_bytes=300,
        )
        return summary, stored_tables(con)
    finally:
        con.close()


def test_rejected_lines_are_journalled_unchanged_with_their_line_numbers(tmp_path):
    data, rejected = torn_file(tmp_path)
    _import_parallel(tmp_path, data)
    con = duckdb.connect(str(tmp_path / "par.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT source, raw, verdict FROM packet_journal WHERE verdict LIKE 'rejected:%' "
            "ORDER BY id"
        ).fetchall()
        kept = con.execute(
            "SELECT source FROM packet_journal WHERE verdict = 'accepted' ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    assert [(s, bytes(r)) for s, r, _ in rows] == [
        (f"file:torn.txt:{n}", raw) for n, raw in sorted(rejected.items())
    ]
    assert len(bytes(rows[1][1])) == LONG + 2  # the oversized line whole, not cut at a block
    assert [s for (s,) in kept] == [f"file:torn.txt:{n}" for n in (1, 3, 6, 8)]


def test_cli_summary_names_the_rejected_lines(tmp_path):
    data, rejected = torn_file(tmp_path)
    path = tmp_path / "torn.txt"
    path.write_bytes(data)
    res = runner.invoke(
        app,
        [
            "import",
            "packets",
            str(path),
            "--db",
            str(tmp_path / "c.duckdb"),
            "--workers",
            "2",
            "--format",
            "json",
        ],
        env={"LANTIAN_NO_PROGRESS": "1"},
    )
    assert res.exit_code == 0, res.output
    for n in rejected:
        assert f"torn.txt:{n}: rejected" in res.stderr
    summary = res.stdout.strip().splitlines()
    assert len(summary) == 1
    assert '"accepted": 4' in summary[0] and '"rejected": 4' in summary[0]

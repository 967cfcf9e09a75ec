"""Session 5: the workers of a parallel import hand their tables over as Arrow IPC files.

* a shipped block, received, is the batch :func:`prepare_batch` makes of the same lines
  (journal with the raw bytes and sources, keys, wide and long frames), and its files are
  gone once it is received;
* a block of blank lines only ships nothing;
* the spool directory is removed after an import, also one that failed, and the spool
  directories of killed imports (their process is gone) are swept by the next one;
* :meth:`PacketStore.store_prepared` gives the verdicts of :meth:`ingest_prepared`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lantian.errors import InputFileError
from lantian.hj212.columnar import column_decoder, decode_columns
from lantian.store import bulkpool
from lantian.store.blocks import receive_block, ship_block, split_block
from lantian.store.bulkpool import SPOOL_PREFIX, import_file_parallel, sweep_spools
from lantian.store.columns import ColumnBatch
from lantian.store.db import connect
from lantian.store.ingest import PacketStore
from lantian.store.prepared import prepare_batch
from test_import_packets import flue_file
from test_import_parallel import fail_on_third_chunk, mixed_lines


def _my_spools() -> list[str]:
    root = bulkpool._spool_root() or tempfile.gettempdir()
    return [n for n in os.listdir(root) if n.startswith(f"{SPOOL_PREFIX}{os.getpid()}-")]


def test_a_shipped_block_is_the_prepared_batch_of_its_lines(tmp_path):
    lines = mixed_lines(tmp_path)
    path = tmp_path / "in.txt"
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(data)
    out = tmp_path / "spool"
    out.mkdir()
    shipped = ship_block(decode_columns, str(path), 0, len(data), 1, "in.txt", str(out))
    assert shipped.n == len(lines) and list(shipped.numbers) == list(range(1, len(lines) + 1))
    assert {Path(f).parent for f in shipped.files.values()} == {out}
    got = receive_block(shipped)
    assert os.listdir(out) == []  # unlinked once mapped
    numbers, raws = split_block(data, 1)
    ref = prepare_batch(ColumnBatch(raw=raws, source=[f"file:in.txt:{n}" for n in numbers],
                                    received_at=[None] * len(raws), **decode_columns(raws)))
    assert got.verdict == ref.verdict
    assert got.journal.column("raw").to_pylist() == lines
    assert got.journal.column("source").to_pylist()[:2] == ["file:in.txt:1", "file:in.txt:2"]
    assert got.journal.drop(["received_at"]).equals(ref.journal.drop(["received_at"]))
    assert got.keys is not None and ref.keys is not None
    assert got.keys.drop(["ts"]).equals(ref.keys.drop(["ts"]))
    assert got.wide.keys() == ref.wide.keys()
    for table in ref.wide:
        assert got.wide[table].equals(ref.wide[table]), table
    assert (got.long is None) == (ref.long is None)
    assert got.long is None or got.long.equals(ref.long)
    assert got.proto_mn == ref.proto_mn and got.proto_version == ref.proto_version


def test_a_block_of_blank_lines_ships_nothing(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_bytes(b"\n \n\r\n")
    shipped = ship_block(decode_columns, str(path), 0, 5, 7, "blank.txt", str(tmp_path))
    assert shipped.n == 0 and shipped.files == {}


def test_store_prepared_gives_the_verdicts_of_ingest_prepared(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 3)
    lines = [ln.rstrip(b"\r\n") for ln in lines]
    cb = ColumnBatch(raw=lines, source=["s"] * 6, received_at=[None] * 6,
                     **decode_columns(lines))
    a, b = PacketStore(connect(tmp_path / "a.duckdb")), PacketStore(connect(tmp_path / "b.duckdb"))
    ref = a.ingest_prepared([prepare_batch(cb)])
    base, texts = b.store_prepared([prepare_batch(cb)])
    assert [(v.packet_id, v.verdict) for v in ref] == [(base + i, t) for i, t in enumerate(texts)]
    assert b.store_prepared([prepare_batch(cb)]) == (base + 6, ["duplicate"] * 6)
    assert b.store_prepared([]) == (base + 12, [])


def test_the_spool_is_removed_after_an_import_and_after_a_failure(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 10)
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(lines))
    con = connect(tmp_path / "ok.duckdb")
    got = import_file_parallel(PacketStore(con), path, column_decoder(True), source="in.txt",
                               workers=1, batch_size=5, chunk_bytes=2000)
    assert got.accepted == 20 and _my_spools() == []
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone() == (20,)
    con.close()
    con = connect(tmp_path / "bad.duckdb")
    with pytest.raises(InputFileError, match="third chunk"):
        import_file_parallel(PacketStore(con), path, fail_on_third_chunk, source="in.txt",
                             workers=1, batch_size=1, chunk_bytes=1)
    con.close()
    assert _my_spools() == []


def test_spools_of_dead_imports_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = tmp_path / f"{SPOOL_PREFIX}{int(dead.stdout)}-abc"
    live = tmp_path / f"{SPOOL_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated-1-x"
    for d in (gone, live, other):
        d.mkdir()
        (d / "0.journal.arrow").write_bytes(b"x")
    assert sweep_spools(str(tmp_path)) == [str(gone)]
    assert not gone.exists() and live.exists() and other.exists()


def test_line_count_is_exact_for_small_files_and_estimated_for_large_ones(tmp_path,
                                                                           monkeypatch):
    from lantian.commands import importing

    small = tmp_path / "s.txt"
    small.write_bytes(b"a\nbb\n\nccc")  # 4 lines, the last without LF
    assert importing._estimate_lines(small) == (4, True)
    small.write_bytes(b"")
    assert importing._estimate_lines(small) == (0, True)
    monkeypatch.setattr(importing, "SAMPLE_BYTES", 10)
    big = tmp_path / "b.txt"
    big.write_bytes(b"abcd\n" * 100)  # 500 bytes; the first 10 hold 2 lines: 2 * 500 / 10
    assert importing._estimate_lines(big) == (100, False)


def test_the_spool_leaves_a_small_ram_file_system_for_the_temp_directory(tmp_path,
                                                                        monkeypatch):
    assert bulkpool._spool_root(str(tmp_path / "missing")) is None
    monkeypatch.setattr(bulkpool, "SPOOL_MIN_FREE", 1)
    assert bulkpool._spool_root(str(tmp_path)) == str(tmp_path)
    monkeypatch.setattr(bulkpool, "SPOOL_MIN_FREE", 1 << 62)  # more than any disk
    assert bulkpool._spool_root(str(tmp_path)) is None

"""``lantian import packets`` loads in each process only what that process uses.

* The importing process only pickles the decoder for its workers: the decoder it passes
  (:class:`lantian.hj212.columnar_lazy.LazyColumnDecoder`) must not import numba (and
  llvmlite's 170-MB LLVM library) there, and must decode exactly like
  :func:`lantian.hj212.columnar.decode_columns`.
* A worker process (multiprocessing ``forkserver``/``spawn``) re-runs the ``lantian``
  script as ``__mp_main__``; building the CLI there must not import every command module
  (DuckDB, the API's authentication …).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from lantian.hj212 import build_packet


def _packet(so2: float) -> bytes:
    return build_packet(st="31", cn="2051", pw="123456", mn="0100000000000000000000AB",
                        data_time="20240101000000", qn="20240101000000000",
                        values={"a21026": {"Avg": so2, "Flag": "N"},
                                "a34013": {"Avg": 5.0, "Flag": "D"}})


def _lines() -> list[bytes]:
    return [_packet(18.4), b"##0000not a packet\r\n", _packet(18.5)]


def test_the_cli_decoder_imports_no_numba_until_it_decodes() -> None:
    code = textwrap.dedent("""
        import json, pickle, sys
        from lantian.commands.importing import column_decoder
        d = pickle.loads(pickle.dumps(column_decoder(True)))
        before = [m for m in ("numba", "llvmlite", "lantian.hj212.columnar") if m in sys.modules]
        d([])
        print(json.dumps([before, "numba" in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [[], True]


def test_the_cli_decoder_decodes_like_decode_columns() -> None:
    from lantian.commands.importing import column_decoder
    from lantian.hj212.columnar import decode_columns

    for strict in (True, False):
        lazy = pickle.loads(pickle.dumps(column_decoder(strict)))
        assert lazy.worker_modules == ("lantian.hj212.columnar", "lantian.hj212.columnar_warm")
        got, want = lazy(_lines()), decode_columns(_lines(), strict=strict)
        assert got.keys() == want.keys()
        for k, v in want.items():
            if isinstance(v, np.ndarray):
                assert np.array_equal(got[k], v, equal_nan=v.dtype.kind == "f"), k
            else:
                assert got[k] == v, k
        assert list(got["ok"]) == [True, False, True]


def test_a_worker_rerunning_the_script_does_not_build_the_commands(tmp_path: Path) -> None:
    script = tmp_path / "lantian_script.py"
    script.write_text(textwrap.dedent("""
        import json, multiprocessing, sys
        from lantian.cli import app


        def loaded(_):
            return [m in sys.modules for m in ("lantian.commands.importing", "duckdb")]


        if __name__ == "__main__":
            here = [m in sys.modules for m in ("lantian.commands.importing", "duckdb")]
            ctx = multiprocessing.get_context("forkserver")
            with ctx.Pool(1) as pool:
                there = pool.map(loaded, [0])[0]
            print(json.dumps([here, there]))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    # the script itself (the parent) has every command; its worker, none
    assert json.loads(out.stdout) == [[True, True], [False, False]]


def test_importing_columnar_warm_loads_the_compiled_decoder() -> None:
    # the import's forkserver imports it so that its forked workers inherit the machine code
    code = textwrap.dedent("""
        import json, importlib
        from lantian.hj212 import scan
        fns = (scan.scan_frames, scan.intern_spans)
        import lantian.hj212.columnar
        before = [len(f.signatures) for f in fns]
        importlib.import_module("lantian.hj212.columnar_warm")
        print(json.dumps([before, [len(f.signatures) for f in fns]]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [[0, 0], [1, 1]]


def test_the_workers_server_starts_before_the_store_is_imported() -> None:
    # lantian import packets starts the forkserver first; its start must not need the store
    code = textwrap.dedent("""
        import json, sys
        from lantian.commands.importing import column_decoder
        from lantian.store.bulkstart import context
        ctx = context(column_decoder(True))
        heavy = ("pyarrow", "numpy", "lantian.store.ingest", "lantian.store.blocks", "numba")
        print(json.dumps([ctx.get_start_method(), [m for m in heavy if m in sys.modules]]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == ["forkserver", []]

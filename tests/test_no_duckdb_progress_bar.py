"""DuckDB's own progress bar stays off on every connection Lantian opens.

DuckDB turns it on where it thinks Python is interactive — ``python -c …`` (how the CLI tests
start ``lantian``), a REPL, a notebook — and then draws it on stdout for any query over 2 s.
Under load, ``lantian assess --engine spark --loads --format json`` started that way printed
a progress line before its JSON objects and the reader failed (``JSONDecodeError``,
2026-11-23). Whether a query takes 2 s depends on the machine, so the test reads the setting
of each connection in such a process, not the output.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHECK = """
import json
import sys
from pathlib import Path
import duckdb
from lantian.engine.backends import connect as engine_connect
from lantian.store.db import connect as store_connect

db = Path(sys.argv[1])
q = "SELECT current_setting('enable_progress_bar')"
seen = {"plain duckdb": duckdb.connect().execute(q).fetchone()[0]}
seen["store"] = store_connect(db).execute(q).fetchone()[0]
seen["store read-only"] = store_connect(db, read_only=True).execute(q).fetchone()[0]
seen["engine"] = engine_connect("duckdb", db=db).raw_sql(q).fetchone()[0]
print(json.dumps(seen))
"""


def test_connections_draw_no_progress_bar_where_duckdb_would(tmp_path):
    r = subprocess.run([sys.executable, "-c", _CHECK, str(tmp_path / "p.duckdb")],
                       capture_output=True, text=True, timeout=300, check=True)
    seen = json.loads(r.stdout)
    # the premise: a bare DuckDB connection in this kind of process has it on
    assert seen.pop("plain duckdb") is True
    assert seen == {"store": False, "store read-only": False, "engine": False}

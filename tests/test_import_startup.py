"""Building the CLI app must not import the heavy libraries.

Every ``lantian`` start imports all command modules; ibis, pandas, pyarrow, fastapi,
weasyprint, openpyxl and pyspark cost 1–2 s of start-up that ``lantian import packets``
(and most commands) never need. They must load only when a command uses them: command
modules import them inside the command functions.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("ibis", "pandas", "pyarrow", "fastapi", "weasyprint", "openpyxl", "pyspark", "numpy")


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import lantian.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


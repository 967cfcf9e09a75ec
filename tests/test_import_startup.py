"""Building the CLI app must not import the heavy libraries (commands/_lazy.py).

Every ``lantian`` start imports all command modules; ibis, pandas, pyarrow, fastapi,
weasyprint, openpyxl and pyspark cost 1–2 s of start-up that ``lantian import packets``
(and most commands) never need. They must load only when a command uses them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from lantian.commands._lazy import LazyObject, lazy_import

HEAVY = ("ibis", "pandas", "pyarrow", "fastapi", "weasyprint", "openpyxl", "pyspark", "numpy")


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import lantian.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_lazy_module_imports_on_first_attribute() -> None:
    code = (
        "import json, sys\n"
        "from lantian.commands._lazy import lazy_import\n"
        "mod = lazy_import('fractions')\n"
        "before = 'fractions' in sys.modules\n"
        "value = str(mod.Fraction(1, 3) * 3)\n"
        "print(json.dumps([before, 'fractions' in sys.modules, value]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, True, "1"]


def test_lazy_attribute_behaves_like_the_object() -> None:
    dumps, loads = lazy_import("json", "dumps", "loads")
    assert isinstance(dumps, LazyObject)
    assert dumps({"a": 1}) == '{"a": 1}'
    assert loads("[1, 2]") == [1, 2]
    order = lazy_import("string", "digits")
    assert list(order)[:3] == ["0", "1", "2"]
    assert len(order) == 10
    assert order[9] == "9"
    assert "5" in order
    assert order == "0123456789"
    assert str(order) == "0123456789"
    assert repr(order) == repr("0123456789")
    assert hash(order) == hash("0123456789")

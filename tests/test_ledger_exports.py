"""The public names of the ledger modules exist and the documented commands are registered."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

MODULES = ["workdays", "vehicles", "gate_records", "transport", "fleet", "marks", "retrofit",
           "retrofit_progress", "history", "registry_io", "demo", "production_control",
           "alerts", "grades", "emissions", "carbon"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    mod = importlib.import_module(f"lantian.ledger.{name}")
    assert mod.__all__, name
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert missing == []


def test_documented_commands_are_registered() -> None:
    from lantian.cli import app

    doc = (Path(__file__).parents[1] / "docs" / "ledgers.md").read_text("utf-8")
    runner = CliRunner()
    for group, cmds in {
        "ledger": ["load-holidays", "export-registry", "import-registry", "snapshot", "history",
                   "load-agreements", "production-check", "load-alerts", "alert-check",
                   "alert-reduction", "grades", "load-production", "intensity", "yoy",
                   "offsets", "retrofit-credit", "alert-measures", "loads"],
        "marks": ["add", "review", "list"],
        "retrofit": ["add-plan", "milestone", "status", "progress", "refresh-list", "notify"],
        "import": ["gate-records", "vehicles"],
    }.items():
        res = runner.invoke(app, [group, "--help"])
        assert res.exit_code == 0
        for cmd in cmds:
            assert cmd in res.stdout, f"{group} {cmd}"
            assert f"lantian {group} {cmd}" in doc, f"{group} {cmd} undocumented"

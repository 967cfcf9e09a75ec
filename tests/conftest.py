"""Shared fixtures: where the public datasets are, temporary databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def datasets_dir() -> Path:
    """Folder of the shared public datasets (``LANTIAN_DATASETS``, default ../shared/datasets)."""
    return Path(os.environ.get("LANTIAN_DATASETS", ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The datasets folder; skips the test where it is absent."""
    d = datasets_dir()
    if not d.is_dir():
        pytest.skip(f"public datasets not found at {d} (set LANTIAN_DATASETS)")
    return d


def dataset(name: str) -> Path:
    """Return one dataset folder, or skip the calling test with the reason."""
    d = datasets_dir() / name
    if not d.is_dir():
        pytest.skip(f"dataset {name!r} not found under {datasets_dir()} (set LANTIAN_DATASETS)")
    return d


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh DuckDB file."""
    return tmp_path / "lantian.duckdb"

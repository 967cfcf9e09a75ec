"""Shared fixtures: where the public datasets are, temporary databases."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# The benchmark scripts (qc_blind, qc_independent, aq_pandas_reference …) are plain modules in
# ``benchmarks/``; run as scripts they import each other from their own folder, and tests import
# them by name through this one path entry (appended: never shadows the package or the tests).
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.append(str(ROOT / "benchmarks"))


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


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """One local PySpark session for the whole run (session time zone pinned to CST).

    Skips where Java or PySpark is missing. The warehouse goes to a temporary folder so
    nothing is written into the working directory.
    """
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java on this machine: the PySpark backend cannot start")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    wh = tmp_path_factory.mktemp("spark-warehouse")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("lantian-tests")
        .config("spark.sql.warehouse.dir", str(wh))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={wh}")
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # one session serves every Spark test of a worker: with the default 1 GiB heap the
        # analyser of level_shift's plan (after the worker's earlier Spark tests) ran out of
        # it in CI (java.lang.OutOfMemoryError: Java heap space, session 17); two workers
        # hold at most 6 GiB of the machine's 24
        .config("spark.driver.memory", "3g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def spark_ibis(spark_session):
    """An Ibis connection on the shared PySpark session (the engine's: cached tables are
    local checkpoints)."""
    from lantian.engine.backends import spark_backend

    return spark_backend(spark_session)

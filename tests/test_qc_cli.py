"""The ``lantian demo`` and ``lantian qc`` command contracts (DESIGN.md §7, issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from lantian.cli import app

DATA = Path(__file__).parent / "data" / "qc"
EVENT_KEYS = {"mn", "detector", "pollutant", "start", "end", "severity", "evidence"}
WEIGHT = {"high": 25, "medium": 10, "low": 2, "info": 0}  # qc_thresholds.csv trust.weight_*


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("demo")
    r = _run("demo", "generate", "--out", str(d / "out"), "--points", "5", "--days", "6",
             "--start", "2026-01-01", "--seed", "7", "--fault-share", "1.0")
    assert r.exit_code == 0, r.output
    summary = _jsonl(r.stdout)[0]
    assert summary["points"] == 5 and summary["rows"] > 5 * 6 * 1400
    db = d / "lantian.duckdb"
    r = _run("demo", "load", str(d / "out"), "--db", str(db))
    assert r.exit_code == 0, r.output
    loaded = _jsonl(r.stdout)[0]
    assert loaded["minute_rows"] == summary["rows"]
    return db


def test_qc_events_contract(demo_db):
    r = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = _jsonl(r.stdout)
    assert rows, "the demo points carry labelled faults"
    for row in rows:
        assert set(row) == EVENT_KEYS
        assert isinstance(row["evidence"], dict)
        assert row["severity"] in WEIGHT
        assert len(row["start"]) == 19 and row["start"][10] == "T"
        assert all(isinstance(v, (int, float, str)) or v is None for v in row["evidence"].values())
    con = duckdb.connect(str(demo_db), read_only=True)
    stored = con.execute("SELECT count(*) FROM quality_event WHERE month = '2026-01'").fetchone()
    con.close()
    assert stored[0] == len(rows)


def test_qc_scores_contract_matches_events(demo_db):
    ev = _jsonl(_run("qc", "--db", str(demo_db), "--month", "2026-01").stdout)
    r = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--scores", "--format", "json")
    assert r.exit_code == 0, r.stderr
    scores = _jsonl(r.stdout)
    assert len(scores) == 5
    for s in scores:
        assert set(s) == {"mn", "trust", "events"}
        mine = [e for e in ev if e["mn"] == s["mn"]]
        assert s["events"] == len(mine)
        assert s["trust"] == max(0, 100 - sum(WEIGHT[e["severity"]] for e in mine))


def test_qc_bad_month_fails_with_one_line(demo_db):
    r = _run("qc", "--db", str(demo_db), "--month", "2026-13x", "--format", "json")
    assert r.exit_code != 0
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "month" in r.stderr


def test_qc_on_a_new_database_is_empty_not_an_error(tmp_path):
    r = _run("qc", "--db", str(tmp_path / "new.duckdb"), "--month", "2026-01", "--scores")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""


def test_import_maintenance_chinese_headers(tmp_path):
    db = tmp_path / "m.duckdb"
    r = _run("qc", "import-maintenance", str(DATA / "maintenance_zh.csv"), "--db", str(db))
    assert r.exit_code == 0, r.stderr
    assert _jsonl(r.stdout) == [{"file": str(DATA / "maintenance_zh.csv"), "read": 2,
                                 "imported": 2}]
    again = _jsonl(_run("qc", "import-maintenance", str(DATA / "maintenance_zh.csv"),
                        "--db", str(db)).stdout)
    assert again[0]["imported"] == 0
    con = duckdb.connect(str(db), read_only=True)
    kinds = con.execute("SELECT kind, end_ts FROM maintenance_record ORDER BY start_ts").fetchall()
    con.close()
    assert [k for k, _ in kinds] == ["calibration", "maintenance"]
    assert str(kinds[1][1]) == "2026-01-10 16:00:00"


def test_import_maintenance_bad_file_names_the_column(tmp_path):
    db = tmp_path / "m.duckdb"
    r = _run("qc", "import-maintenance", str(DATA / "maintenance_bad.csv"), "--db", str(db))
    assert r.exit_code != 0
    assert "'end'" in r.stderr and r.stdout == ""


def test_demo_generate_rejects_bad_arguments(tmp_path):
    r = _run("demo", "generate", "--out", str(tmp_path), "--points", "0", "--days", "1")
    assert r.exit_code != 0 and "points" in r.stderr
    r = _run("demo", "generate", "--out", str(tmp_path), "--points", "1", "--days", "1",
             "--start", "01/02/2026")
    assert r.exit_code != 0 and "--start" in r.stderr


def test_qc_assess_is_the_monthly_job(demo_db):
    """``qc --assess``: the same events on stdout, and the verdicts ``assess`` gives, stored."""
    plain = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--format", "json")
    assert plain.exit_code == 0, plain.stderr
    con = duckdb.connect(str(demo_db))
    con.execute("DELETE FROM month_ule_verdict WHERE month = '2026-01'")
    con.close()
    job = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--assess", "--format", "json")
    assert job.exit_code == 0, job.stderr
    assert _jsonl(job.stdout) == _jsonl(plain.stdout)
    assert "stored 5 monthly verdicts" in job.stderr
    ref = _run("assess", "--db", str(demo_db), "--month", "2026-01", "--no-store",
               "--format", "json")
    assert ref.exit_code == 0, ref.stderr
    expect = {r["mn"]: r for r in _jsonl(ref.stdout)}
    con = duckdb.connect(str(demo_db), read_only=True)
    rows = con.execute(
        "SELECT mn, source_type, production_hours, valid_hours, compliant_hours, "
        "compliance_ratio, ule_pass, exceedance_hours, invalid_hours, engine "
        "FROM month_ule_verdict WHERE month = '2026-01' ORDER BY mn").fetchall()
    con.close()
    assert len(rows) == len(expect) == 5
    for mn, st, prod, valid, comp, ratio, ule, exc, inv, engine in rows:
        e = expect[mn]
        assert (st, prod, valid, comp, ule) == (e["source_type"], e["production_hours"],
                                                e["valid_hours"], e["compliant_hours"],
                                                e["ule_pass"])
        assert ratio == pytest.approx(e["compliance_ratio"], rel=1e-12)
        assert (json.loads(exc), json.loads(inv)) == (e["exceedance_hours"], e["invalid_hours"])
        assert engine == "duckdb"


@pytest.mark.parametrize("assess", [False, True])
def test_qc_scans_in_point_ranges_with_the_same_output(demo_db, monkeypatch, assess):
    """``lantian qc`` (and ``--assess``) builds its block scan in ranges of the registry's points.

    With ranges of 2 of the 5 points (3 ranges: two kept, one appended) the events, scores and
    verdicts are those of the one scan.
    """
    from lantian.engine.quality import job

    real = job._ranges

    def output(chunk: int) -> tuple[list[dict], list[int]]:
        monkeypatch.setattr(job, "CHUNK_POINTS", chunk)
        sizes: list[int] = []

        def spy(*a, **k):
            parts = real(*a, **k)
            sizes.append(len(parts))
            return parts

        monkeypatch.setattr(job, "_ranges", spy)
        extra = ["--assess"] if assess else []
        r = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--format", "json", *extra)
        assert r.exit_code == 0, r.stderr
        return _jsonl(r.stdout), sizes

    one, one_sizes = output(1000)
    split, split_sizes = output(2)
    assert one_sizes == [1] and split_sizes == [3]
    assert one and split == one


@pytest.mark.parametrize("assess", [False, True])
def test_qc_keeps_its_frames_compressed_with_the_same_output(demo_db, monkeypatch, assess):
    """On DuckDB ``lantian qc`` keeps its frames in the compressed in-memory database.

    Every kept frame (the block scan and the shared hours at least) is a table of
    ``job.KEPT_DATABASE``, and the events equal those with uncompressed temporary tables.
    """
    from lantian.engine.quality import job

    real = job.compressed_keep
    extra = ["--assess"] if assess else []

    def output(compressed: bool) -> tuple[list[dict], list[str]]:
        where: list[str] = []

        def spy(con):
            names = (f"plain_{i}" for i in range(1000))
            keep = real(con) if compressed else (  # uncompressed temporary tables
                lambda t: con.create_table(next(names), t, temp=True))

            def kept(t):
                c = keep(t)
                where.append(con.con.execute(
                    "SELECT database_name FROM duckdb_tables() WHERE table_name = ?",
                    [c.get_name().split(".")[-1]]).fetchall()[0][0])
                return c
            return kept

        monkeypatch.setattr(job, "compressed_keep", spy)
        r = _run("qc", "--db", str(demo_db), "--month", "2026-01", "--format", "json", *extra)
        assert r.exit_code == 0, r.stderr
        return _jsonl(r.stdout), where

    packed, packed_where = output(True)
    plain, plain_where = output(False)
    assert len(packed_where) >= 2 and set(packed_where) == {job.KEPT_DATABASE}
    assert job.KEPT_DATABASE not in plain_where
    assert packed and packed == plain

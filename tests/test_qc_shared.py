"""The monthly job's one scan: the engine's verdicts and qc's events are unchanged.

:func:`lantian.engine.quality.job.assess_and_detect` reads the month's minutes once into
per-(point, 30-minute block) partials (:func:`lantian.engine.hours.block_partials` +
:func:`lantian.engine.quality.blocks.minute_blocks`), builds the engine's valid hours from
them (:func:`lantian.engine.hours.hours_from_blocks`) and runs every detector on the same
table. The engine's monthly verdicts must be those of
:func:`lantian.engine.assess.assess_month` (and of the pandas reference of the engine's
conformance case, with every flag kind, 44/45-minute hours, stops and marks), its hourly
detail the same up to float sums, and the events exactly ``lantian qc``'s.
"""

from __future__ import annotations

import pandas as pd
import pytest

from lantian.engine import backends
from lantian.engine.assess import assess_month, hour_record, month_keys, monthly_record
from lantian.engine.hours import block_partials, hours_from_blocks, valid_hours
from lantian.engine.quality import job, load_thresholds
from lantian.engine.quality.inputs import read_inputs
from lantian.engine.quality.job import assess_and_detect, shared_blocks
from lantian.engine.quality.run import detector_events
from qc_demo import MONTH as DEMO_MONTH
from qc_demo import qc_demo_fixture  # noqa: F401  (the shared fixture qc_demo)
from test_engine_conformance import MONTH, _same
from test_engine_conformance import case as conformance  # noqa: F401  (its fixture)
from test_qc_perf import _sorted


def _keep(t):
    return t.cache()


def test_hours_from_block_partials_equal_valid_hours(qc_demo):
    """Every column of valid_hours (means, counts, presence, Zs means, F minutes, flow_raw)."""
    con, kw = qc_demo
    minute = kw["minute"]
    keys = month_keys(minute)
    b = minute.mutate(block=minute.ts.epoch_seconds() // 1800)
    blocks = b.group_by(["mn", "block"]).aggregate(**block_partials(b, keys))
    order = ["mn", "ts"]
    a = con.execute(valid_hours(minute, keys)).sort_values(order).reset_index(drop=True)
    got = con.execute(hours_from_blocks(blocks, keys)).sort_values(order).reset_index(drop=True)
    assert list(got.columns) == list(a.columns)
    pd.testing.assert_frame_equal(a, got, check_dtype=False, rtol=1e-12)
    # the demo has hours of every kind: invalid and valid, with and without F minutes
    assert 0 < int((~got["so2_valid"]).sum()) < len(got)
    assert int((got["f_minutes"] > 0).sum()) > 0


@pytest.mark.parametrize("chunk", [None, 5])
def test_monthly_job_gives_the_engine_verdicts_and_the_qc_events(qc_demo, chunk, monkeypatch):
    """Also with the block scan in ranges of 5 points (job.CHUNK_POINTS; 14 points: 3)."""
    con, kw = qc_demo
    if chunk is not None:
        monkeypatch.setattr(job, "CHUNK_POINTS", chunk)
    verdicts, parts = assess_and_detect(con, kw, materialize=_keep)
    pd.testing.assert_frame_equal(con.execute(assess_month(con, DEMO_MONTH)),
                                  con.execute(verdicts))
    alone = detector_events(**kw, materialize=_keep)
    assert list(parts) == list(alone)
    total = 0
    for name, expr in alone.items():
        a, b = _sorted(con.execute(expr)), _sorted(con.execute(parts[name]))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
        total += len(a)
    assert total > 0


def _records(con, blocks=None):
    rows = assess_month(con, MONTH, blocks=blocks).execute()
    detail = assess_month(con, MONTH, detail=True, blocks=blocks).execute()
    monthly = {r["mn"]: monthly_record(r) for r in rows.to_dict("records")}
    return monthly, [hour_record(r) for r in detail.to_dict("records")]


def test_block_path_meets_the_engine_conformance_case(conformance):  # noqa: F811
    """Same monthly records as the engine and its pandas reference; same hourly detail."""
    db, _, ref = conformance
    con = backends.connect(db=db)
    kw = read_inputs(con, MONTH, load_thresholds())
    blocks = shared_blocks(kw["minute"], kw["keys"], month_keys(kw["minute"]),
                           kw["thresholds"]).cache()
    monthly, detail = _records(con, blocks)
    e_monthly, e_detail = _records(con)
    assert monthly == e_monthly
    assert set(monthly) == set(ref)
    for mn, exp in ref.items():
        for k in exp:
            assert _same(monthly[mn][k], exp[k]), (mn, k, monthly[mn][k], exp[k])
    assert len(detail) == len(e_detail) == 3 * 696
    for s, d in zip(detail, e_detail, strict=True):
        for k, v in d.items():
            assert _same(s[k], v), (d["mn"], d["ts"], k, s[k], v)


@pytest.mark.spark
def test_block_path_on_spark_equals_duckdb(conformance, spark_session):  # noqa: F811
    db, lake, _ = conformance
    duck = _records(backends.connect(db=db))[0]
    con = backends.connect("spark", db=db, lake=lake, month=MONTH, session=spark_session)
    minute = backends.minute_table(con, MONTH)
    keys = month_keys(minute)
    blocks = shared_blocks(minute, keys, keys, load_thresholds()).cache()
    rows = assess_month(con, MONTH, blocks=blocks).execute()
    blocks.release()
    got = {r["mn"]: monthly_record(r) for r in rows.to_dict("records")}
    assert got.keys() == duck.keys()
    for mn in got:
        for k, v in duck[mn].items():
            assert _same(got[mn][k], v), (mn, k, got[mn][k], v)

"""``spike_candidates`` with the caller's ``materialize`` hook (qcspike15, session 15).

At 5,000 points the job's block scan holds 7.2 M blocks and ~60 k of them are candidates:
the hook keeps the candidate blocks as soon as they are found, so the common-mode, stop and
clock-hour joins read those, not the scan. The candidates are the same with and without it.
Worked case of ``test_qc_spike_short.py``: two days of NOx (level 50) and PM (level 20)
minutes alternating ±0.5, both glitching together at 10:12-10:21 of day 0 (NOx to 150, PM to
60): of the 2 x 96 thirty-minute blocks only the two of 10:00-10:29 on day 0 are candidates.
"""

from __future__ import annotations

import ibis
import pandas as pd

from lantian.engine.quality import load_thresholds
from lantian.engine.quality.blocks import minute_blocks
from lantian.engine.quality.spikes import spike_candidates
from test_qc_spike_short import _base, _hours, _set

TH = load_thresholds()


def _glitch_together() -> pd.DataFrame:
    df = _base(pm=20.0)
    _set(df, "10:12", "10:22", 150.0)
    _set(df, "10:12", "10:22", 60.0, col="pm_mg_m3")
    return df


def _candidates(df: pd.DataFrame, kept: list | None) -> pd.DataFrame:
    con = ibis.duckdb.connect()
    m = ibis.memtable(df)
    hl = _hours(df, ("nox", "pm"))
    b = minute_blocks(m, ["nox", "pm"], TH)

    def keep(t):
        k = con.create_table(f"kept_{len(kept)}", con.execute(t), temp=True)
        kept.append(con.execute(k))
        return k

    c = spike_candidates(hl, TH, blocks=b, materialize=keep if kept is not None else None)
    out = con.execute(c)
    return out.sort_values(["pollutant", "run"]).reset_index(drop=True)


def test_the_hook_keeps_only_the_candidate_blocks_and_changes_no_candidate():
    df = _glitch_together()
    kept: list[pd.DataFrame] = []
    with_hook = _candidates(df, kept)
    without = _candidates(df, None)
    pd.testing.assert_frame_equal(with_hook, without)
    assert list(with_hook.pollutant) == ["nox", "pm"] and with_hook.other_block.all()
    blk = [k for k in kept if "_blk" in k.columns]
    assert len(blk) == 1 and sorted(blk[0].pollutant) == ["nox", "pm"]
    assert set(blk[0]._h) == {pd.Timestamp("2026-01-05 10:00")}

"""The statistical detectors on real stack data no one here wrote.

UCI "Gas Turbine CO and NOx Emission Data Set" (Kaya et al. 2019;
``../shared/datasets/uci-gas-turbine-co-nox/``): 36,733 hourly rows 2011–2015 in time
order, no timestamps. Each year is cut into 30-day "months" of consecutive rows (as
``lantian qc`` judges a month) and given synthetic hourly timestamps. Every row is a
running hour (the turbine yields energy).

* False alarms: events of severity medium or high per 1,000 hours on the clean series.
* Recall (per pollutant): spikes (×4–8 for one or two hours) and level shifts (×0.4 or ×2.2
  for two to five days) injected at random places of the NOx and CO series.

The turbine energy yield (TEY) is given to ``level_shift`` as the load (the role the flow
plays at a stack): a level change at the hour the load steps is a process change (``low``).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from conftest import dataset
from lantian.engine.quality import load_thresholds
from lantian.engine.quality.statistics import level_shift, spike

MONTH_H = 720


def _years():
    """(raw rows, month names, hourly timestamps) of each year, cut into 30-day months."""
    d = dataset("uci-gas-turbine-co-nox")
    for year in range(2011, 2016):
        raw = pd.read_csv(d / f"gt_{year}.csv")
        month = np.arange(len(raw)) // MONTH_H
        yield (raw, [f"UCI{year}-{m:02d}" for m in month],
               pd.date_range(f"{year}-01-01", periods=len(raw), freq="h"))


def _hours() -> pd.DataFrame:
    frames = [pd.DataFrame({"mn": mn, "ts": ts, "pollutant": pol,
                            "value": raw[col].astype(float).to_numpy()})
              for raw, mn, ts in _years() for pol, col in (("nox", "NOX"), ("co", "CO"))]
    df = pd.concat(frames, ignore_index=True)
    # drop the short tail of each year: a month needs a few days of hours
    size = df.groupby(["mn", "pollutant"])["value"].transform("size")
    return df[size >= 96].reset_index(drop=True)


def _load() -> pd.DataFrame:
    """The turbine's energy yield TEY [MWh] per hour: the load, as flow is for a stack."""
    return pd.concat([pd.DataFrame({"mn": mn, "ts": ts, "load": raw["TEY"].astype(float)
                                    .to_numpy()}) for raw, mn, ts in _years()],
                     ignore_index=True)


def _detect(df: pd.DataFrame, load: pd.DataFrame | None = None,
            screen: bool = True) -> pd.DataFrame:
    df = df.sort_values(["mn", "pollutant", "ts"]).copy()
    df["idx"] = df.groupby(["mn", "pollutant"]).cumcount() + 1
    hl = ibis.memtable(df)
    th = load_thresholds()
    ld = ibis.memtable(load) if load is not None else None
    return ibis.duckdb.connect().execute(spike(hl, th, screen=screen).union(
        level_shift(hl, th, load=ld, screen=screen)))


def _inject(df: pd.DataFrame, rng: np.random.Generator, n_each: int = 20):
    df = df.copy()
    truth = []
    groups = list(df.groupby(["mn", "pollutant"]).groups.items())
    used: set[tuple] = set()
    for kind in ("spike", "level_shift"):
        made = 0
        while made < n_each:
            (mn, pol), rows = groups[int(rng.integers(len(groups)))]
            if (mn, pol) in used or len(rows) < MONTH_H - 24:
                continue
            rows = np.asarray(rows)
            if kind == "spike":
                length = int(rng.integers(1, 3))
                i = int(rng.integers(48, len(rows) - 48))
                df.loc[rows[i : i + length], "value"] *= rng.uniform(4, 8)
            else:
                length = int(rng.integers(48, 120))
                i = int(rng.integers(100, len(rows) - length - 100))
                factor = 0.4 if rng.random() < 0.5 else 2.2
                df.loc[rows[i : i + length], "value"] *= factor
            used.add((mn, pol))
            truth.append({"detector": kind, "mn": mn, "pollutant": pol,
                          "start": df.loc[rows[i], "ts"],
                          "end": df.loc[rows[i + length - 1], "ts"] + pd.Timedelta(minutes=59)})
            made += 1
    return df, pd.DataFrame(truth)


@pytest.fixture(scope="module")
def uci():
    return _hours()


@pytest.fixture(scope="module")
def load():
    return _load()


def test_false_alarms_per_1000_hours_on_the_clean_series(uci, load):
    ev = _detect(uci, load)
    hours = {p: int((uci["pollutant"] == p).sum()) for p in ("nox", "co")}
    alarms = ev[ev["severity"].isin(["medium", "high"])]
    rate = {p: 1000 * int((alarms["pollutant"] == p).sum()) / hours[p] for p in hours}
    print(f"UCI clean: hours {hours}, alarms per 1000 h {rate}, all events "
          f"{ev.groupby(['pollutant', 'detector', 'severity']).size().to_dict()}")
    # NOx (the regulated pollutant) is a steady series: almost no alarms
    assert rate["nox"] <= 0.5
    # CO of a gas turbine has real isolated excursions at load changes; they are flagged
    # (the data do jump) but stay a few per 1,000 hours
    assert rate["co"] <= 5.0


def test_recall_of_injected_spikes_and_level_shifts(uci, load):
    from lantian.demo.evaluate import score

    dirty, truth = _inject(uci, np.random.default_rng(2024))
    ev = _detect(dirty, load)
    rec = {}
    for pol in ("nox", "co"):
        s = score(ev[ev["pollutant"] == pol], truth[truth["pollutant"] == pol],
                  ["spike", "level_shift"])
        rec[pol] = {d: (x.found, x.faults, round(x.recall, 3)) for d, x in s.items()}
    print(f"UCI injected recall (found, faults, recall): {rec}")
    # NOx at tens of mg/m3: every injected fault is found
    assert rec["nox"]["spike"][2] >= 0.9 and rec["nox"]["level_shift"][2] >= 0.9
    # CO sits at 1-2 mg/m3 with an IQR close to its median; spikes of a few mg/m3 there stay
    # under the detector's absolute floor (spike.abs_floor × k) on purpose, and x0.4 / x2.2
    # shifts are within its natural month-to-month swings, so CO recall is lower (reported
    # in benchmarks/RESULTS.md, not a target)
    assert rec["co"]["spike"][2] >= 0.5


def test_the_screens_give_the_full_windows_events_on_real_data(uci, load):
    # qcstats (session 5): spike / level_shift screens are bounds; on the real series with
    # injected faults the events (evidence included) equal those of the full rolling windows
    dirty, _ = _inject(uci, np.random.default_rng(7))
    cols = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]
    got = [sorted(map(tuple, _detect(dirty, load, screen)[cols].astype(str).values.tolist()))
           for screen in (True, False)]
    assert len(got[0]) > 20  # the injected faults and the series' own excursions
    assert got[0] == got[1]

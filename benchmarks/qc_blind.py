"""Blind evaluation set for the quality detectors (issue 4, "outside checks"; session 6).

Re-run (several seeds, full month, 40 points; prints the tables for RESULTS.md)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/qc_blind.py \
        --seeds 1 2 3 4 5 --points 40 --days 31

Small run while developing: ``--seeds 1 --points 18 --days 14``. ``--show-false`` prints
every missed fault and every false alarm.

**How this was written (blindness).** The generator below was written from the issue text
(``issues show 4``) and ``shared/reference/regulations.md`` §1.2–1.6 and §2 only, by an
engineer who had NOT read the detectors' code (``lantian/engine/quality/*``) nor
``catalog/data/qc_thresholds.csv`` before this file was committed. It shares no code with
``lantian.demo`` or with the signal model of ``benchmarks/qc_independent.py``; from the latter
it takes only the scorer (:func:`qc_independent.detect`, :func:`qc_independent.score`) so
the three sets are scored alike, and (since the session-6 review) the assembly of the row
lists into a ``Case`` (:func:`qc_independent.assemble_case`, no modelling). Nothing here was
changed after looking at detector output in order to make a detector pass (any later change
to this file is listed in its git log).

Clean outlets (per point, minute data, China Standard Time wall clock), modelled on plant
operation rather than on a smooth load curve:

* six source types the limit catalogue knows, each with its own operating pattern —
  ``coal_power_boiler`` (grid dispatch: load set-points stepping every 15–90 min with ramp
  limits, a night valley, soot blowing twice a day = real PM peaks), ``cement_kiln``
  (continuous; the raw mill stops 2–4 h a day in peak-tariff hours and kiln SO2 rises while
  it is off; one or two kiln trips a month), ``gas_boiler`` (two-shift heating boiler,
  06:00–22:00 on weekdays, weekend stops; SO2 0.3–3 mg/m³ and PM 0.5–2 mg/m³, near the
  detection limit; NOx burst at each light-off), ``coke_oven_stack`` (continuous, heating
  reversal every 20 or 30 min = a 1–2 min dip of every channel), ``sinter_head`` (O2
  naturally 14–17 %, strand speed changes), ``captive_gas_turbine`` (peaking: two runs a
  day, O2 14–15.5 % running);
* analyser model: resolution (quantisation) of 1, 0.1 or 0.01 mg/m³ for concentrations,
  0.1 or 0.01 % for O2; noise = AR(1) (phi 0.85–0.97) + white, scaled to 0.3–1 % of the
  analyser's full scale (HJ 76-2017 allows ±2 % FS drift per 24 h), plus a slow zero drift
  reset at each daily automatic calibration (HJ 75-2017 §11: zero/span check every 24 h);
  the calibration itself: 8–15 min a day flagged ``C`` with zero gas then span gas readings;
* full scale (i13001) = the smallest standard range ≥ 2.5 × the raw-O2 limit;
* start-up / shut-down: O2 to ambient, flow to a small draught, stack temperature cooling
  with a time constant of 1–3 h (a warm stack after a real stop); loggers send ``F`` while
  stopped on some points and keep ``N`` on others; the enterprise marks most stops;
* real process upsets (desulphurisation trip: SO2 ×2–4 for 2–6 h), recorded O&M windows
  (``M`` flags 1–4 h with a maintenance record and a slope adjusted by 1–4 %), random packet
  losses of 1–3 min (0.2–1 % of minutes);
* loggers that send ``Zs`` values with their own rounding (0, 1 or 2 decimals), computed from
  the O2 they send; some send no Zs;
* two "honest but close" points per seed: a pollutant at 0.6–0.85 of the limit with the
  load-driven variability of a real plant (not pinned).

Faults (labels: detector, point, pollutant, start, end; ``info`` has ``strength`` =
``borderline`` or ``clear``), one or more of each detector's kinds at two strengths:
frozen channel (61–100 min borderline, 2–10 h clear; concentration, O2 or flow; only on a
channel whose value normally moves: median ≥ 20 resolution steps), zero/negative readings,
over range (above full scale, or clamped at it with ``T``), a whole month pinned under the
limit, dilution (O2 a few points above the type's band, or near ambient), false ``F`` flags
or a false enterprise stop mark while running, level shifts (×0.6–0.7 / ×1.4–1.6 borderline,
×0.3–0.5 / ×2–3 clear, 1–5 days), isolated spikes (×2.5–4 or +5–10 % FS borderline, ×5–10 or
+20–50 % FS clear, 5–90 min), gaps (2–4 h borderline, 8–72 h clear) or a day with 40–70 % of
packets lost, hidden exceedances under ``M``/``D`` flags, slope/intercept/range changed
without a record, Zs off the correction for hours or computed with a wrong reference O2 all
month.

Points that send only hourly data are not modelled: the detectors take minute frames.

Label trace (session 15, added after generation; no value nor random draw changed): each label
of a kind that changes values gets ``compared`` (minutes sent in its window with a value of
its channel), ``changed`` (those the fault changed, after the logger's rounding) and, for
zs_mismatch, ``beyond_tol`` (those changed by more than the detector's per-minute tolerance,
read from the catalog). The report ends with the recall over labels that changed at least one
transmitted value and the list of those that changed none.

Scoring as ``qc_independent.py``: alarm = ``medium``/``high``; ``low`` counted apart;
precision = alarms matching a fault of the same detector / (those + false alarms), alarms that
only overlap another detector's fault are "collateral"; recall = faults found / faults.
Additionally: false alarms per 1,000 point-hours on the clean points, per detector and per
source type, and recall per strength.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import numpy as np
import pandas as pd
import qc_independent as qi  # this script's own folder (tests: via conftest)

from lantian.engine.quality.inputs import point_limits
from lantian.engine.quality.run import DETECTORS

__all__ = ["TRACE_COLUMNS", "build_case", "clean_rates", "evaluate", "label_traces",
           "recall_by_strength", "zs_beyond_tolerance"]

POLS = ("pm", "so2", "nox")
_STD_RANGES = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)

# source type -> (O2 running at full load %, O2 rise at the lowest running load %,
#                 level as a fraction of the limit at full load, upper edge of the normal O2
#                 band while running %)
_TYPES = {
    "coal_power_boiler": (5.5, 2.5, {"pm": (0.2, 0.5), "so2": (0.3, 0.7), "nox": (0.5, 0.8)},
                          9.5),
    "cement_kiln": (9.5, 2.0, {"pm": (0.2, 0.5), "so2": (0.15, 0.4), "nox": (0.5, 0.8)}, 13.5),
    "gas_boiler": (3.5, 3.0, {"pm": None, "so2": None, "nox": (0.1, 0.3)}, 8.5),
    "coke_oven_stack": (8.0, 1.0, {"pm": (0.2, 0.5), "so2": (0.2, 0.6), "nox": (0.55, 0.85)},
                        11.5),
    "sinter_head": (15.0, 1.5, {"pm": (0.2, 0.5), "so2": (0.2, 0.6), "nox": (0.4, 0.8)}, 18.0),
    "captive_gas_turbine": (14.5, 1.0, {"pm": (0.1, 0.4), "so2": None, "nox": (0.3, 0.7)},
                            16.5),
}
# gas-fired: SO2 and PM near the detection limit, absolute mg/m3 (measured) ranges
_NEAR_DL = {"so2": (0.3, 3.0), "pm": (0.5, 2.0)}


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) (exponential smoothing of white noise, rescaled)."""
    e = rng.normal(0.0, 1.0, n)
    a = 1.0 - phi
    sd = np.sqrt(a / (2.0 - a))  # stationary s.d. of the smoothed series
    e[0] *= sd  # start in the stationary law
    x = pd.Series(e).ewm(alpha=a, adjust=False).mean().to_numpy()
    return x / sd


def _std_range(x: float) -> float:
    for r in _STD_RANGES:
        if r >= x:
            return r
    return _STD_RANGES[-1]


def _quant(x: np.ndarray, res: float) -> np.ndarray:
    return np.round(np.round(x / res) * res, 6)


# ---------------------------------------------------------------- operating patterns


def _ramp_to(target: np.ndarray, rate: float) -> np.ndarray:
    """Follow a step set-point with a ramp limit ``rate`` (load units per minute)."""
    out = np.empty_like(target)
    cur = target[0]
    for i, t in enumerate(target):  # set-points change rarely: cheap enough per minute
        d = t - cur
        cur += max(-rate, min(rate, d))
        out[i] = cur
    return out


def _pattern(rng, stype: str, ts: pd.DatetimeIndex) -> tuple[np.ndarray, dict]:
    """Load in [0, 1] per minute (0 = stopped) and pattern facts."""
    n = len(ts)
    hour = ts.hour.to_numpy()
    dow = ts.day_of_week.to_numpy()
    minute_of_day = hour * 60 + ts.minute.to_numpy()
    facts: dict = {}
    if stype == "coal_power_boiler":
        sp = np.empty(n)
        i = 0
        while i < n:
            d = int(rng.integers(15, 91))
            h = hour[i]
            lo, hi = (0.5, 0.65) if h < 6 else (0.6, 1.0)
            sp[i:i + d] = rng.uniform(lo, hi)
            i += d
        load = _ramp_to(sp, rng.uniform(0.01, 0.02))
        stops = [(int(rng.integers(0, n - 3000)), int(rng.integers(12, 60)) * 60)] \
            if rng.random() < 0.3 else []
    elif stype == "cement_kiln":
        load = np.clip(0.92 + 0.03 * _ar1(rng, n, 0.995), 0.8, 1.0)
        start = int(rng.integers(8, 11)) * 60  # raw mill off in peak-tariff hours
        dur = int(rng.integers(2, 5)) * 60
        facts["mill_off"] = (minute_of_day >= start) & (minute_of_day < start + dur)
        stops = [(int(rng.integers(0, n - 1000)), int(rng.integers(2, 9)) * 60)
                 for _ in range(int(rng.integers(1, 3)))]
    elif stype == "gas_boiler":
        on = (minute_of_day >= 6 * 60) & (minute_of_day < 22 * 60) & (dow < 5)
        if rng.random() < 0.4:  # some run around the clock on weekdays
            on = dow < 5
        base = rng.uniform(0.35, 0.7)
        load = np.where(on, np.clip(base + 0.08 * _ar1(rng, n, 0.99), 0.2, 1.0), 0.0)
        stops = []
    elif stype == "coke_oven_stack":
        load = np.clip(0.95 + 0.02 * _ar1(rng, n, 0.995), 0.85, 1.0)
        period = int(rng.choice([20, 30]))
        facts["reversal"] = (np.arange(n) % period) < int(rng.integers(1, 3))
        stops = []
    elif stype == "sinter_head":
        sp = np.repeat(rng.uniform(0.75, 1.0, n // 120 + 1), 120)[:n]
        load = _ramp_to(sp, 0.005)
        stops = [(int(rng.integers(0, n - 1000)), int(rng.integers(3, 13)) * 60)] \
            if rng.random() < 0.5 else []
    elif stype == "captive_gas_turbine":
        on = ((minute_of_day >= 7 * 60) & (minute_of_day < 11 * 60)) | \
             ((minute_of_day >= 17 * 60) & (minute_of_day < 22 * 60))
        load = np.where(on, np.clip(0.85 + 0.05 * _ar1(rng, n, 0.99), 0.6, 1.0), 0.0)
        stops = []
    else:
        raise ValueError(stype)
    for s, d in stops:
        load[s:s + d] = 0.0
    # start-up ramps after every stop (10-40 min, faster for gas)
    running = load > 0
    edges = np.flatnonzero(np.diff(running.astype(int)) == 1) + 1
    for e in edges:
        r = int(rng.integers(10, 41))
        k = min(r, n - e)
        load[e:e + k] *= np.linspace(0.15, 1.0, r)[:k]
    facts["startups"] = edges
    return load, facts


# ---------------------------------------------------------------- clean point


def _clean_point(rng, mn: str, stype: str, lim: dict, o2ref: dict, start: dt.datetime,
                 days: int, *, close: str | None = None) -> tuple[pd.DataFrame, dict]:
    n = days * 1440
    ts = pd.date_range(start, periods=n, freq="min")
    load, facts = _pattern(rng, stype, ts)
    run = load > 0
    o2_full, o2_rise, levels, band = _TYPES[stype]
    o2_res = float(rng.choice([0.1, 0.01]))
    o2 = o2_full + o2_rise * (1 - np.clip(load, 0.3, 1.0)) / 0.7 \
        + 0.15 * _ar1(rng, n, rng.uniform(0.85, 0.97)) + 0.05 * rng.normal(size=n)
    # light-off: O2 falls from ambient over the first ramp minutes
    o2 = np.where(run & (load < 0.3), o2 + (20.9 - o2) * (0.3 - load) / 0.3, o2)
    o2 = np.where(run, np.minimum(o2, 20.9), 20.9 - np.abs(rng.normal(0, 0.05, n)))
    if "reversal" in facts:
        o2 = np.where(facts["reversal"] & run, o2 + rng.uniform(1.0, 3.0), o2)
    fmax = rng.uniform(30, 500)
    flow = np.where(run, fmax * (0.3 + 0.7 * load), fmax * rng.uniform(0.0, 0.03))
    flow = flow * (1 + 0.01 * _ar1(rng, n, 0.9))
    # stack temperature: hot while running, cools with a 1-3 h time constant after a stop
    t_run = {"sinter_head": 130, "cement_kiln": 120, "coke_oven_stack": 180,
             "captive_gas_turbine": 90, "gas_boiler": 70, "coal_power_boiler": 50}[stype]
    target = np.where(run, t_run * (0.8 + 0.2 * load), 15.0)
    tau = rng.uniform(60, 180)
    temp = pd.Series(target).ewm(alpha=1 / tau, adjust=False).mean().to_numpy()
    temp = temp + rng.normal(0, 0.3, n)
    res = float(rng.choice([1.0, 0.1, 0.01], p=[0.3, 0.5, 0.2]))
    df = pd.DataFrame({"mn": mn, "ts": ts})
    meta: dict = {"stype": stype, "lim": lim, "o2ref": o2ref, "res": res, "o2_res": o2_res,
                  "run": run, "ranges": {}, "band": band, "facts": facts}
    cal_start = int(rng.integers(0, 1440 - 30))
    cal_len = int(rng.integers(8, 16))
    day_idx = np.arange(n) // 1440
    cal = np.zeros(n, dtype=bool)
    for d in range(days):
        cal[d * 1440 + cal_start:d * 1440 + cal_start + cal_len] = True
    meta["cal"] = cal
    for p in POLS:
        L = lim.get(p)
        if L is None:
            continue
        ref = o2ref.get(p)
        raw_lim = L * ((21 - o2_full) / (21 - ref) if ref else 1.0)
        fs = _std_range(2.5 * raw_lim)
        meta["ranges"][p] = fs
        if levels.get(p) is None:  # near the detection limit, absolute measured level
            lo, hi = _NEAR_DL[p]
            base = np.full(n, rng.uniform(lo, hi))
            corr_level = None
        else:
            lo, hi = levels[p]
            if close == p:
                lo, hi = 0.6, 0.85
            corr_level = rng.uniform(lo, hi) * L
            base = None
        slow = 0.1 * _ar1(rng, n, 0.999)
        lf = 0.6 + 0.4 * load
        if close == p:
            lf = 0.4 + 0.6 * load
        if base is None:
            corr = corr_level * lf * (1 + slow)
            raw = corr * ((21 - o2) / (21 - ref) if ref else 1.0)
        else:
            raw = base * (1 + 3 * slow) * lf
        if stype == "cement_kiln" and p == "so2":
            raw = np.where(facts["mill_off"], raw * rng.uniform(1.3, 2.0), raw)
        if stype == "coal_power_boiler" and p == "pm":  # soot blowing, twice a day
            for hh in (int(rng.integers(8, 11)), int(rng.integers(19, 23))):
                k = rng.uniform(1.5, 2.5)
                dur = int(rng.integers(10, 31))
                shape = np.interp(np.arange(dur), [0, dur / 3, dur - 1], [1, k, 1])
                for d in range(days):
                    s = d * 1440 + hh * 60 + int(rng.integers(0, 30))
                    raw[s:s + dur] *= shape[: len(raw[s:s + dur])]
        if stype == "gas_boiler" and p == "nox":  # NOx burst at light-off
            for e in facts["startups"]:
                k = min(15, n - e)
                raw[e:e + k] *= np.linspace(rng.uniform(1.5, 2.5), 1.0, 15)[:k]
        if "reversal" in facts:
            raw = np.where(facts["reversal"], raw * rng.uniform(0.3, 0.6), raw)
        sd = rng.uniform(0.003, 0.01) * fs
        noise = sd * (0.8 * _ar1(rng, n, rng.uniform(0.85, 0.97)) + 0.6 * rng.normal(size=n))
        drift = np.zeros(n)
        slope = rng.normal(0, 0.005 * fs, days)  # zero drift per day, reset at calibration
        since = (np.arange(n) - cal_start) % 1440
        drift = slope[day_idx] * since / 1440
        val = np.where(run, raw + noise + drift, np.abs(noise) * 0.3)
        val = np.where(val < 0, np.where(rng.random(n) < 0.5, 0.0, val), val)
        # daily calibration: zero gas, then span gas (80 % FS), flagged C
        pos = np.arange(n) % 1440 - cal_start
        val = np.where(cal, np.where(pos < cal_len // 2, rng.normal(0, 0.002 * fs, n),
                                     0.8 * fs + rng.normal(0, 0.004 * fs, n)), val)
        df[f"{p}_mg_m3"] = _quant(val, res)
        df[f"{p}_flag"] = np.where(cal, "C", "N")
        meta.setdefault("cal_vals", {})[p] = df[f"{p}_mg_m3"].to_numpy()[cal]
    df["o2_pct"] = _quant(o2, o2_res)
    df["flow_m3_s"] = _quant(flow, float(rng.choice([0.1, 0.01])))
    df["temp_c"] = _quant(temp, 0.1)
    send_f = rng.random() < 0.5
    meta["send_f"] = send_f
    for c in ("o2_flag", "flow_flag", "temp_flag"):
        df[c] = "N"
    if send_f:
        for c in [c for c in df.columns if c.endswith("_flag")]:
            df[c] = np.where(~run, "F", df[c])
    meta["zs_dec"] = int(rng.choice([0, 1, 2])) if rng.random() < 0.7 else None
    return df, meta


# ---------------------------------------------------------------- faults


class _Slots:
    """Non-overlapping fault windows per point (6 h apart), optionally in running time."""

    def __init__(self, rng, n: int, run: np.ndarray):
        self.rng, self.n, self.run = rng, n, run
        self.used: list[tuple[int, int]] = []

    def take(self, dur: int, need_running: bool = True) -> int | None:
        for _ in range(300):
            s = int(self.rng.integers(60, max(61, self.n - dur - 60)))
            e = s + dur
            if any(s - 360 < b and a < e + 360 for a, b in self.used):
                continue
            if need_running and not self.run[s:e].all():
                continue
            self.used.append((s, e))
            return s
        return None


def _moving(df: pd.DataFrame, meta: dict, p: str, steps: float) -> bool:
    """Whether pollutant ``p`` normally reads ≥ ``steps`` resolution steps while running."""
    col = f"{p}_mg_m3"
    if col not in df.columns:
        return False
    v = df[col].to_numpy()[meta["run"] & ~meta["cal"]]
    return bool(len(v)) and float(np.median(v)) >= steps * meta["res"]


def _label(rows, det, mn, pol, ts, s, e, strength, **info):
    rows.append({"detector": det, "mn": mn, "pollutant": pol, "start": ts[s],
                 "end": ts[e - 1], "info": str({"strength": strength, **info})})


def _inject(rng, kind: str, df: pd.DataFrame, meta: dict, slots: _Slots, truth: list) -> bool:
    """Inject one fault of ``kind`` into point ``df`` in place; False when it cannot."""
    ts = df["ts"].to_numpy()
    mn = df["mn"].iloc[0]
    pols = [p for p in POLS if f"{p}_mg_m3" in df.columns]
    clear = rng.random() < 0.5
    st = "clear" if clear else "borderline"
    det = kind
    if kind == "constant":
        chans = [p for p in pols if _moving(df, meta, p, 20)] + ["o2", "flow"]
        ch = str(rng.choice(chans))
        dur = int(rng.integers(120, 601)) if clear else int(rng.integers(61, 101))
        s = slots.take(dur)
        if s is None:
            return False
        col = {"o2": "o2_pct", "flow": "flow_m3_s"}.get(ch, f"{ch}_mg_m3")
        v = df[col].to_numpy().copy()
        v[s:s + dur] = v[s - 1]
        df[col] = v
        meta.setdefault("frozen", []).append((ch, s, s + dur))
        _label(truth, det, mn, ch, ts, s, s + dur, st, minutes=dur)
    elif kind == "zero":
        cand = [p for p in pols if _moving(df, meta, p, 20) and
                np.median(df[f"{p}_mg_m3"].to_numpy()[meta["run"]]) >= 3.0]
        if not cand:
            return False
        p = str(rng.choice(cand))
        dur = int(rng.integers(60, 361)) if clear else int(rng.integers(20, 46))
        s = slots.take(dur)
        if s is None:
            return False
        col = f"{p}_mg_m3"
        v = df[col].to_numpy().copy()
        off = -rng.uniform(0.0, 0.03) * meta["ranges"][p]
        v[s:s + dur] = _quant(off + rng.normal(0, 0.002 * meta["ranges"][p], dur), meta["res"])
        df[col] = v
        _label(truth, det, mn, p, ts, s, s + dur, st, minutes=dur)
    elif kind == "over_range":
        p = str(rng.choice(pols))
        fs = meta["ranges"][p]
        col = f"{p}_mg_m3"
        v = df[col].to_numpy().copy()
        if clear:  # clamped at full scale and flagged T
            dur = int(rng.integers(30, 181))
            s = slots.take(dur)
            if s is None:
                return False
            v[s:s + dur] = fs
            f = df[f"{p}_flag"].to_numpy().copy()
            f[s:s + dur] = "T"
            df[f"{p}_flag"] = f
        else:  # a few minutes above full scale, flag N
            dur = int(rng.integers(10, 31))
            s = slots.take(dur)
            if s is None:
                return False
            v[s:s + dur] = _quant(fs * rng.uniform(1.02, 1.15, dur), meta["res"])
        df[col] = v
        _label(truth, det, mn, p, ts, s, s + dur, st, minutes=dur)
    elif kind == "pinned_under_limit":
        p = str(rng.choice([q for q in pols if meta["lim"].get(q) and
                            _TYPES[meta["stype"]][2].get(q) is not None] or pols))
        L, ref = meta["lim"][p], meta["o2ref"].get(p)
        target = L * (rng.uniform(0.9, 0.97) if clear else rng.uniform(0.85, 0.92))
        cv = rng.uniform(0.005, 0.03) if clear else rng.uniform(0.04, 0.06)
        n = len(df)
        corr = target * (1 + cv * _ar1(rng, n, 0.98))
        o2 = df["o2_pct"].to_numpy()
        raw = corr * ((21 - o2) / (21 - ref) if ref else 1.0)
        run = meta["run"] & ~meta["cal"]
        df[f"{p}_mg_m3"] = np.where(run, _quant(raw, meta["res"]), df[f"{p}_mg_m3"])
        idx = np.flatnonzero(run)
        slots.used.append((0, n))
        _label(truth, det, mn, p, ts, int(idx[0]), int(idx[-1]) + 1, st, target=round(target, 2),
               cv=round(cv, 3), wide=True)
    elif kind == "dilution":
        hours = int(rng.integers(2, 49))
        dur = hours * 60
        s = slots.take(dur)
        if s is None:
            return False
        band = meta["band"]
        o2_new = rng.uniform(max(band + 2.5, 18.0), 20.5) if clear else \
            min(rng.uniform(band + 1.5, band + 3.0), 20.3)
        sl = slice(s, s + dur)
        o2_old = df["o2_pct"].to_numpy()[sl]
        k = np.clip((21 - o2_new) / (21 - o2_old), 0.02, 1.0)
        for p in pols:
            v = df[f"{p}_mg_m3"].to_numpy().copy()
            v[sl] = _quant(v[sl] * k, meta["res"])
            df[f"{p}_mg_m3"] = v
        o = df["o2_pct"].to_numpy().copy()
        o[sl] = _quant(o2_new + rng.normal(0, 0.1, dur), meta["o2_res"])
        df["o2_pct"] = o
        f = df["flow_m3_s"].to_numpy().copy()
        f[sl] = np.round(f[sl] / k, 2)
        df["flow_m3_s"] = f
        _label(truth, det, mn, None, ts, s, s + dur, st, o2=round(o2_new, 1))
    elif kind == "false_stop":
        dur = int(rng.integers(240, 1441)) if clear else int(rng.integers(60, 121))
        s = slots.take(dur)
        if s is None:
            return False
        for c in [c for c in df.columns if c.endswith("_flag")]:
            f = df[c].to_numpy().copy()
            f[s:s + dur] = "F"
            df[c] = f
        _label(truth, det, mn, None, ts, s, s + dur, st, minutes=dur, how="flag")
    elif kind == "false_stop_mark":
        dur = int(rng.integers(6, 25) if clear else rng.integers(2, 4)) * 60
        s = slots.take(dur)
        if s is None:
            return False
        meta.setdefault("bad_marks", []).append((ts[s], ts[s + dur - 1] + np.timedelta64(1, "m")))
        _label(truth, "false_stop", mn, None, ts, s, s + dur, st, minutes=dur, how="mark")
    elif kind == "level_shift":
        cand = [p for p in pols if _moving(df, meta, p, 20)]
        if not cand:
            return False
        p = str(rng.choice(cand))
        if clear:
            f = rng.uniform(0.3, 0.5) if rng.random() < 0.5 else rng.uniform(2.0, 3.0)
        else:
            f = rng.uniform(0.6, 0.7) if rng.random() < 0.5 else rng.uniform(1.4, 1.6)
        dur = int(rng.integers(24, 121)) * 60
        s = slots.take(dur, need_running=False)
        if s is None or meta["run"][s:s + dur].mean() < 0.5:
            if s is not None:
                slots.used.pop()
            return False
        col = f"{p}_mg_m3"
        v = df[col].to_numpy().copy()
        keep = meta["cal"][s:s + dur]
        v[s:s + dur] = np.where(keep, v[s:s + dur], _quant(v[s:s + dur] * f, meta["res"]))
        df[col] = v
        _label(truth, det, mn, p, ts, s, s + dur, st, factor=round(f, 2))
    elif kind == "spike":
        cand = [p for p in pols if _moving(df, meta, p, 5)]
        if not cand:
            return False
        p = str(rng.choice(cand))
        dur = int(rng.integers(5, 91))
        s = slots.take(dur)
        if s is None:
            return False
        col = f"{p}_mg_m3"
        v = df[col].to_numpy().copy()
        fs = meta["ranges"][p]
        if rng.random() < 0.5:
            f = rng.uniform(5, 10) if clear else rng.uniform(2.5, 4.0)
            v[s:s + dur] = _quant(v[s:s + dur] * f, meta["res"])
            how = f"x{f:.1f}"
        else:
            a = (rng.uniform(0.2, 0.5) if clear else rng.uniform(0.05, 0.1)) * fs
            v[s:s + dur] = _quant(v[s:s + dur] + a, meta["res"])
            how = f"+{a:.1f}"
        df[col] = v
        _label(truth, det, mn, p, ts, s, s + dur, st, how=how, minutes=dur)
    elif kind == "missing":
        if rng.random() < 0.3:  # a day of intermittent transmission
            d = int(rng.integers(1, len(df) // 1440 - 1))
            s, dur = d * 1440, 1440
            if any(s - 360 < b and a < s + dur + 360 for a, b in slots.used):
                return False
            slots.used.append((s, s + dur))
            share = rng.uniform(0.4, 0.7)
            drop = np.flatnonzero(rng.random(dur) < share) + s
            meta.setdefault("drop_idx", []).append(drop)
            _label(truth, det, mn, None, ts, s, s + dur, "clear" if share > 0.55 else
                   "borderline", lost=round(share, 2))
            return True
        dur = int(rng.integers(8, 73)) * 60 if clear else int(rng.integers(120, 241))
        s = slots.take(dur, need_running=False)
        if s is None:
            return False
        meta.setdefault("drop", []).append((s, s + dur))
        _label(truth, det, mn, None, ts, s, s + dur, st, minutes=dur)
    elif kind == "flag_abuse":
        p = str(rng.choice(pols))
        h = int(rng.integers(5, 11)) if clear else int(rng.integers(2, 4))
        s = slots.take(h * 60 + 120)
        if s is None:
            return False
        s = (s // 60 + 1) * 60
        L, ref = meta["lim"][p], meta["o2ref"].get(p)
        o2 = df["o2_pct"].to_numpy()[s:s + h * 60]
        corr = L * (rng.uniform(2.0, 4.0) if clear else rng.uniform(1.2, 1.6))
        col = f"{p}_mg_m3"
        v = df[col].to_numpy().copy()
        v[s:s + h * 60] = _quant(corr * ((21 - o2) / (21 - ref) if ref else 1.0)
                                 * (1 + 0.03 * rng.normal(size=h * 60)), meta["res"])
        df[col] = v
        flag = str(rng.choice(["M", "D"]))
        f = df[f"{p}_flag"].to_numpy().copy()
        f[s:s + h * 60] = flag
        df[f"{p}_flag"] = f
        _label(truth, det, mn, p, ts, s, s + h * 60, st, hours=h, flag=flag)
    elif kind == "calibration_change":
        p = str(rng.choice(pols))
        s = None
        for _ in range(20):
            s = slots.take(120, need_running=False)
            if s is None or not any(abs(s - a) < 2880 for a, _b in meta.get("maint_idx", [])):
                break
            slots.used.pop()
            s = None
        if s is None:
            return False
        code = str(rng.choice(["i13008", "i13008", "i13007", "i13001"]))
        meta.setdefault("param_changes", []).append((p, code, s, clear, False))
        _label(truth, det, mn, p, ts, s, s + 60, st, code=code)
    elif kind == "zs_mismatch":
        if meta["zs_dec"] is None:
            return False
        cand = [q for q in pols if meta["o2ref"].get(q)]
        if not cand:
            return False
        p = str(rng.choice(cand))
        if clear and rng.random() < 0.4:  # logger configured with a wrong reference O2
            ref = meta["o2ref"][p]
            wrong = float(rng.choice([r for r in (3.0, 3.5, 6.0, 9.0, 10.0, 11.0, 15.0)
                                      if abs(r - ref) >= 2.5 and r < 16]))
            meta["zs_ref"] = {p: wrong}
            run = np.flatnonzero(meta["run"])
            slots.used.append((0, len(df)))
            _label(truth, det, mn, p, ts, int(run[0]), int(run[-1]) + 1, st, wrong_ref=wrong,
                   wide=True)
            return True
        dur = int(rng.integers(120, 1441)) if clear else int(rng.integers(120, 481))
        s = slots.take(dur)
        if s is None:
            return False
        if clear:
            f = rng.uniform(0.5, 0.75) if rng.random() < 0.5 else rng.uniform(1.3, 1.8)
        else:
            f = rng.uniform(0.85, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.15)
        meta.setdefault("zs_bias", []).append((p, s, s + dur, f))
        _label(truth, det, mn, p, ts, s, s + dur, st, factor=round(f, 2))
    else:
        raise ValueError(kind)
    return True


def _nuisance(rng, df: pd.DataFrame, meta: dict, slots: _Slots, maint: list) -> None:
    """Legitimate events: a desulphurisation upset, recorded O&M windows."""
    mn = df["mn"].iloc[0]
    ts = df["ts"].to_numpy()
    pols = [p for p in POLS if f"{p}_mg_m3" in df.columns]
    if "so2" in pols and _moving(df, meta, "so2", 5) and rng.random() < 0.5:
        dur = int(rng.integers(2, 7)) * 60
        s = slots.take(dur)
        if s is not None:
            k = rng.uniform(2.0, 4.0)
            shape = np.interp(np.arange(dur), [0, 30, dur - 30, dur - 1], [1, k, k, 1])
            v = df["so2_mg_m3"].to_numpy().copy()
            v[s:s + dur] = _quant(v[s:s + dur] * shape, meta["res"])
            df["so2_mg_m3"] = v
    for _ in range(int(rng.integers(0, 3))):
        dur = int(rng.integers(1, 5)) * 60
        s = slots.take(dur, need_running=False)
        if s is None:
            continue
        for p in pols:
            f = df[f"{p}_flag"].to_numpy().copy()
            f[s:s + dur] = "M"
            df[f"{p}_flag"] = f
        meta.setdefault("maint_idx", []).append((s, s + dur))
        maint.append({"mn": mn, "start_ts": pd.Timestamp(ts[s]),
                      "end_ts": pd.Timestamp(ts[s + dur - 1])})
        meta.setdefault("param_changes", []).append(
            (str(rng.choice(pols)), "i13008", s + dur // 2, None, True))


def _params(df: pd.DataFrame, meta: dict, start: dt.datetime, days: int, rng,
            rows: list) -> None:
    """Analyser parameters once a day and right after each change; values follow changes."""
    from lantian.catalog.glossary import glossary

    code = {e.key: e.code_2017 for e in glossary()}
    mn = df["mn"].iloc[0]
    for p in [p for p in POLS if f"{p}_mg_m3" in df.columns]:
        cur = {"i13001": meta["ranges"][p], "i13007": 0.0, "i13008": 1.0}
        ch = sorted((s, c, clear, rec) for (q, c, s, clear, rec) in meta.get("param_changes", [])
                    if q == p)
        times = [(d * 1440 + int(rng.integers(0, 5)), None, None, None) for d in range(days)]
        col = f"{p}_mg_m3"
        for minute, c, clear, recorded in sorted(times + ch, key=lambda x: x[0]):
            if c is not None:
                v = df[col].to_numpy().copy()
                live = df[f"{p}_flag"].to_numpy()[minute:] != "C"
                if c == "i13008":
                    if recorded:
                        k = 1 + rng.choice([-1, 1]) * rng.uniform(0.01, 0.04)
                    elif clear:
                        k = rng.uniform(0.6, 0.8) if rng.random() < 0.5 else rng.uniform(1.25, 1.5)
                    else:
                        k = rng.uniform(0.85, 0.95) if rng.random() < 0.5 else \
                            rng.uniform(1.05, 1.15)
                    new = round(cur[c] * k, 4)
                    v[minute:] = np.where(live, _quant(v[minute:] * new / cur[c], meta["res"]),
                                          v[minute:])
                elif c == "i13007":
                    fs = meta["ranges"][p]
                    a = rng.choice([-1, 1]) * (rng.uniform(0.05, 0.1) if clear
                                               else rng.uniform(0.02, 0.04)) * fs
                    new = round(cur[c] + a, 3)
                    v[minute:] = np.where(live, _quant(v[minute:] + a, meta["res"]), v[minute:])
                else:  # range switched
                    new = cur[c] * float(rng.choice([0.5, 2.0]))
                cur[c] = new
                df[col] = v
            t = pd.Timestamp(start) + pd.Timedelta(minutes=int(minute))
            for k2, val in cur.items():
                rows.append({"mn": mn, "ts": t, "code": k2, "num": float(val), "text": code[p]})


def _restore_calibrations(df: pd.DataFrame, meta: dict) -> None:
    """Zero/span readings of the daily calibration are what the gases give, whatever an
    upset or a fault did to the flue-gas readings (except under a frozen channel)."""
    cal = meta["cal"]
    for p, vals in meta.get("cal_vals", {}).items():
        idx = np.flatnonzero(cal)
        keep = np.ones(len(idx), dtype=bool)
        for ch, s, e in meta.get("frozen", []):
            if ch == p:
                keep &= ~((idx >= s) & (idx < e))
        v = df[f"{p}_mg_m3"].to_numpy().copy()
        v[idx[keep]] = vals[keep]
        df[f"{p}_mg_m3"] = v


def _zs(df: pd.DataFrame, meta: dict) -> None:
    """Logger Zs: its own rounding, from the O2 it sends; nothing while stopped."""
    for p in POLS:
        col = f"{p}_mg_m3"
        if col not in df.columns:
            continue
        ref = (meta.get("zs_ref") or {}).get(p, meta["o2ref"].get(p))
        if meta["zs_dec"] is None or ref is None:
            df[f"{p}_zs"] = np.nan
            continue
        df[f"{p}_zs"] = _zs_values(df, meta, p, ref)


def _zs_values(df: pd.DataFrame, meta: dict, p: str, ref: float) -> np.ndarray:
    """The Zs a logger with reference O2 ``ref`` sends for pollutant ``p`` (see :func:`_zs`)."""
    o2 = df["o2_pct"].to_numpy()
    zs = df[f"{p}_mg_m3"].to_numpy() * (21 - ref) / np.maximum(21 - o2, 0.5)
    return np.where(meta["run"] & (o2 < 20.0), np.round(zs, meta["zs_dec"]), np.nan)


# ---------------------------------------------------------------- case


KINDS = ("constant", "zero", "over_range", "dilution", "false_stop", "false_stop_mark",
         "level_shift", "spike", "missing", "flag_abuse", "calibration_change", "zs_mismatch")


def build_case(seed: int, n_points: int = 40, days: int = 31, month: str = "2026-03"):
    """Generate one blind month; returns a ``qc_independent.Case`` (``nuisance`` = clean)."""
    rng = np.random.default_rng(10_000 + seed)
    start = dt.datetime.fromisoformat(month + "-01")
    types = list(_TYPES)
    pts = pd.DataFrame([{"mn": f"BLD{seed:02d}{i:03d}", "source_type": types[(i + seed) % 6],
                         "jurisdiction": None} for i in range(n_points)])
    lim_t = point_limits(pts, start.date()).execute()
    n_clean = max(6, n_points * 3 // 10)
    n_pinned = max(2, n_points // 10)
    queue = [k for _ in range(max(1, (n_points - n_clean - n_pinned) * 3 // len(KINDS) + 1))
             for k in KINDS]
    rng.shuffle(queue)
    frames, truth, params, maint, marks, clean = [], [], [], [], [], []
    for i, row in pts.iterrows():
        lim = {r.pollutant: r.limit_mg_m3 for r in lim_t[lim_t.mn == row.mn].itertuples()
               if r.pollutant in POLS}
        ref = {r.pollutant: (None if pd.isna(r.o2_ref_pct) else r.o2_ref_pct)
               for r in lim_t[lim_t.mn == row.mn].itertuples() if r.pollutant in POLS}
        close = None
        if i < 2:  # honest but close to the limit
            close = str(rng.choice([p for p in lim if _TYPES[row.source_type][2].get(p)]))
        df, meta = _clean_point(rng, row.mn, row.source_type, lim, ref, start, days,
                                close=close)
        slots = _Slots(rng, len(df), meta["run"])
        _nuisance(rng, df, meta, slots, maint)
        n_labels = len(truth)
        before = {c: df[c].to_numpy().copy() for c in df.columns if c.endswith(_VALUE_COLS)}
        if i < n_clean:
            clean.append(row.mn)
        elif i < n_clean + n_pinned:
            _inject(rng, "pinned_under_limit", df, meta, slots, truth)
        else:
            for _ in range(3):
                if queue:
                    _inject(rng, queue.pop(), df, meta, slots, truth)
        after = {c: df[c].to_numpy().copy() for c in before}
        _params(df, meta, start, days, rng, params)
        _restore_calibrations(df, meta)
        _zs(df, meta)
        zs_before = {c: df[c].to_numpy().copy() for c in df.columns if c.endswith("_zs")}
        for p, s, e, f in meta.get("zs_bias", []):
            z = df[f"{p}_zs"].to_numpy().copy()
            z[s:e] = np.round(z[s:e] * f, meta["zs_dec"])
            df[f"{p}_zs"] = z
        run = meta["run"]
        edges = np.flatnonzero(np.diff(np.r_[1, run.astype(int), 1]))
        for a, b in zip(edges[::2], edges[1::2], strict=True):  # stops: [a, b)
            if rng.random() < 0.7:
                marks.append({"mn": row.mn, "kind": "stopped", "start_ts": df["ts"].iloc[a],
                              "end_ts": df["ts"].iloc[b - 1] + pd.Timedelta(minutes=1)})
        for a, b in meta.get("bad_marks", []):
            marks.append({"mn": row.mn, "kind": "stopped", "start_ts": pd.Timestamp(a),
                          "end_ts": pd.Timestamp(b)})
        keep = rng.random(len(df)) >= rng.uniform(0.002, 0.01)  # packet losses 1-3 min
        lost = np.flatnonzero(~keep)
        for k in (1, 2):
            keep[np.minimum(lost + k, len(df) - 1)] &= rng.random(len(lost)) < 0.5
        for a, b in meta.get("drop", []):
            keep[a:b] = False
        for idx in meta.get("drop_idx", []):
            keep[idx] = False
        frames.append(df[keep])
        _trace_labels(truth[n_labels:], df, meta, keep, before, after, zs_before)
    case = qi.assemble_case(frames, pts, truth, params, maint, marks, month, clean)
    for c in TRACE_COLUMNS:  # the labels' trace (assemble_case keeps the scorer's columns)
        case.truth[c] = pd.array([t.get(c) for t in truth], dtype="Int64")
    return case


# ---------------------------------------------------------------- trace of the labels

#: Columns the trace adds to ``case.truth`` (pandas Int64, <NA> where a kind has none):
#: ``compared`` transmitted minutes of the label's window where its channel has a value;
#: ``changed`` those whose transmitted value the fault changed (after the logger's rounding);
#: ``beyond_tol`` (zs_mismatch only) those changed by more than the detector's per-minute
#: tolerance.
TRACE_COLUMNS = ("compared", "changed", "beyond_tol")

_VALUE_COLS = ("_mg_m3", "o2_pct", "flow_m3_s")
# kinds whose injection changes the values of the label's channel (calibration_change's
# slope/intercept change is applied with the parameters: no trace counted)
_VALUE_KINDS = ("constant", "zero", "over_range", "pinned_under_limit", "dilution",
                "level_shift", "spike", "flag_abuse")


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise ``a != b`` with NaN equal to NaN (no value sent either way)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return (a != b) & ~(np.isnan(a) & np.isnan(b))


def zs_beyond_tolerance(clean: np.ndarray, faulted: np.ndarray, step: float, th) -> np.ndarray:
    """Minutes where the faulted Zs is off the clean one by more than the detector's
    per-minute tolerance (:func:`~lantian.engine.quality.process.zs_minute_tolerance`, the
    clean Zs standing for the platform's own correction; ``th`` the catalog's thresholds)."""
    from lantian.engine.quality.process import zs_minute_tolerance

    with np.errstate(invalid="ignore"):
        return np.abs(np.asarray(faulted, dtype=float) - np.asarray(clean, dtype=float)) \
            > zs_minute_tolerance(clean, step, th)


def _trace_labels(labels: list, df: pd.DataFrame, meta: dict, keep: np.ndarray,
                  before: dict, after: dict, zs_before: dict, *, thresholds=None) -> None:
    """Add the trace (:data:`TRACE_COLUMNS`) to the labels of one point, in place.

    Evaluation only: reads the values before and after the fault (never a detector's output)
    and changes no value and draws no random number, so the generated data are the same
    with or without it. ``before``/``after``: the point's value columns around the fault
    injection; ``zs_before``: its Zs columns before the Zs bias; ``keep``: minutes sent;
    ``thresholds`` the detector's (default: the catalog's).
    """
    from lantian.engine.quality.thresholds import load_thresholds

    th = load_thresholds() if thresholds is None else thresholds
    ts = df["ts"].to_numpy()
    for lab in labels:
        win = keep & (ts >= np.datetime64(lab["start"])) & (ts <= np.datetime64(lab["end"]))
        pol = lab["pollutant"]
        if lab["detector"] == "zs_mismatch":
            col = f"{pol}_zs"
            faulted = df[col].to_numpy()
            if "wrong_ref" in lab["info"]:
                clean = _zs_values(df, meta, pol, meta["o2ref"][pol])
            else:
                clean = zs_before[col]
            has = win & ~np.isnan(faulted)
            lab["compared"] = int(has.sum())
            lab["changed"] = int((has & _differs(clean, faulted)).sum())
            step = 10.0 ** -meta["zs_dec"]
            lab["beyond_tol"] = int((has & zs_beyond_tolerance(clean, faulted, step,
                                                               th)).sum())
        elif lab["detector"] in _VALUE_KINDS:
            col = ("o2_pct" if pol is None else
                   {"o2": "o2_pct", "flow": "flow_m3_s"}.get(pol, f"{pol}_mg_m3"))
            has = win & ~np.isnan(after[col].astype(float))
            lab["compared"] = int(has.sum())
            lab["changed"] = int((has & _differs(before[col], after[col])).sum())


# ---------------------------------------------------------------- scoring


def clean_rates(events: pd.DataFrame, case) -> pd.DataFrame:
    """Alarms and ``low`` events on the clean points: counts and per 1,000 point-hours,
    by detector and source type (every alarm on a clean point is false)."""
    clean = set(case.nuisance)
    hours = case.minute[case.minute.mn.isin(clean)].groupby("mn").size() / 60.0
    st = case.points.set_index("mn")["source_type"]
    ph = hours.groupby(st.reindex(hours.index)).sum()
    ev = events[events.mn.isin(clean)].copy()
    ev["source_type"] = st.reindex(ev.mn).to_numpy()
    ev["alarm"] = ev.severity.isin(["medium", "high"])
    ev["low"] = ev.severity == "low"
    rows = []
    for (det, typ), g in ev.groupby(["detector", "source_type"]):
        rows.append({"detector": det, "source_type": typ, "alarms": int(g.alarm.sum()),
                     "low": int(g.low.sum())})
    out = pd.DataFrame(rows, columns=["detector", "source_type", "alarms", "low"])
    out["point_hours"] = out.source_type.map(ph).fillna(0.0)
    return out


def recall_by_strength(events: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Faults and faults found (alarm) per detector and strength."""
    rows = []
    for strength in ("borderline", "clear"):
        t = truth[truth["info"].str.contains(f"'strength': '{strength}'")]
        sc = qi.score(events, t).set_index("detector")
        for det in DETECTORS:
            rows.append({"detector": det, "strength": strength,
                         "faults": int(sc.loc[det, "faults"]), "found": int(sc.loc[det, "found"])})
    return pd.DataFrame(rows)


def evaluate(seed: int, n_points: int = 40, days: int = 31):
    """Build, detect and score one seed: (scores, events, case)."""
    case = build_case(seed, n_points, days)
    events = qi.detect(case)
    return qi.score(events, case.truth), events, case


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--show-false", action="store_true")
    args = ap.parse_args(argv)
    scores, cleans, strengths, traces = [], [], [], []
    clean_hours: dict[str, float] = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        sc, ev, case = evaluate(seed, args.points, args.days)
        sc["seed"] = seed
        scores.append(sc)
        cr = clean_rates(ev, case)
        cr["seed"] = seed
        cleans.append(cr)
        strengths.append(recall_by_strength(ev, case.truth))
        traces.append(label_traces(ev, case.truth).assign(seed=seed))
        st = case.points.set_index("mn")["source_type"]
        cm = case.minute[case.minute.mn.isin(case.nuisance)]
        for typ, h in (cm.groupby(st.reindex(cm.mn).to_numpy()).size() / 60.0).items():
            clean_hours[typ] = clean_hours.get(typ, 0.0) + float(h)
        print(f"seed {seed}: {len(case.minute):,} minute rows, {len(case.truth)} faults, "
              f"{len(case.nuisance)} clean points, {len(ev)} events, "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if args.show_false:
            qi._show_false(ev, case)
    s = pd.concat(scores, ignore_index=True)
    agg = s.groupby("detector", sort=False)[["alarms", "true", "collateral", "false", "faults",
                                             "found", "found_any_severity", "low_events"]].sum()
    agg["precision"] = agg["true"] / (agg["true"] + agg["false"]).replace(0, np.nan)
    agg["recall"] = agg["found"] / agg["faults"]
    agg["min_precision_seed"] = s.groupby("detector", sort=False)["precision"].min()
    agg["min_recall_seed"] = s.groupby("detector", sort=False)["recall"].min()
    pd.set_option("display.width", 220)
    print(agg.round(3).to_string())
    b = pd.concat(strengths).groupby(["detector", "strength"], sort=False).sum()
    b["recall"] = b["found"] / b["faults"].replace(0, np.nan)
    print("\nrecall by strength")
    print(b.unstack("strength").round(2).to_string())
    c = pd.concat(cleans, ignore_index=True)
    total_h = sum(clean_hours.values())
    print(f"\nclean points: {total_h:,.0f} point-hours "
          + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(clean_hours.items())))
    if len(c):
        by_det = c.groupby("detector")[["alarms", "low"]].sum()
        by_det["alarms_per_1000h"] = by_det["alarms"] / total_h * 1000
        by_det["low_per_1000h"] = by_det["low"] / total_h * 1000
        print("clean points, by detector")
        print(by_det.round(2).to_string())
        by_t = c.groupby(["source_type", "detector"])[["alarms", "low"]].sum()
        by_t["alarms_per_1000h"] = [a / clean_hours[t] * 1000
                                    for (t, _d), a in by_t["alarms"].items()]
        print("clean points, by source type")
        print(by_t.round(2).to_string())
    else:
        print("clean points: no events at all")
    _print_traces(pd.concat(traces, ignore_index=True))
    return 0


def label_traces(events: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The labels that carry a trace (:data:`TRACE_COLUMNS`), each with ``found`` (an alarm
    of its detector matches it, as :func:`qc_independent.score` counts)."""
    t = truth[truth["changed"].notna()].copy()
    t["found"] = [bool(qi.score(events, t.loc[[i]]).set_index("detector")
                       .loc[t.at[i, "detector"], "found"]) for i in t.index]
    return t


def _print_traces(t: pd.DataFrame) -> None:
    """Recall over the labels whose fault changed at least one transmitted value, and the
    labels that changed none (no detector can see them) or, for zs_mismatch, none by more
    than the detector's per-minute tolerance."""
    print("\nlabel trace: transmitted values the fault changed (after the logger's rounding)")
    if not len(t):
        print("no labels with a trace")
        return
    rows = []
    for det, g in t.groupby("detector", sort=False):
        traced = g[g["changed"] > 0]
        row = {"detector": det, "faults": len(g), "found": int(g["found"].sum()),
               "traced": len(traced), "found_traced": int(traced["found"].sum())}
        row["recall_traced"] = row["found_traced"] / row["traced"] if row["traced"] else np.nan
        if det == "zs_mismatch":
            beyond = g[g["beyond_tol"] > 0]
            row["beyond_tol"] = len(beyond)
            row["found_beyond_tol"] = int(beyond["found"].sum())
            row["recall_beyond_tol"] = (row["found_beyond_tol"] / row["beyond_tol"]
                                        if row["beyond_tol"] else np.nan)
        rows.append(row)
    tab = pd.DataFrame(rows).set_index("detector")
    tab = tab.reindex([d for d in DETECTORS if d in tab.index])
    for c in ("beyond_tol", "found_beyond_tol"):
        tab[c] = tab[c].astype("Int64")
    print(tab.round(3).to_string())
    cols = ["seed", "detector", "mn", "pollutant", "start", "end", "info", "compared",
            "changed", "beyond_tol", "found"]
    none = t[t["changed"] == 0]
    print(f"traceless labels (no transmitted value changed): {len(none)}")
    if len(none):
        print(none[cols].to_string(index=False))
    within = t[(t["detector"] == "zs_mismatch") & (t["changed"] > 0) & (t["beyond_tol"] == 0)]
    print(f"zs_mismatch labels changed only within the per-minute tolerance: {len(within)}")
    if len(within):
        print(within[cols].to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())

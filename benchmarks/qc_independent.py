"""Independent fault set for the quality detectors (issue 4, "outside checks").

Re-run (several seeds, full month, ~40 points; writes a table for RESULTS.md)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/qc_independent.py \
        --seeds 1 2 3 4 5 --points 40 --days 31

Small run while developing: ``--seeds 1 --points 14 --days 21``. ``--per-seed`` prints the
per-seed spread of every detector (session 4 used ``--seeds 1 2 3 4 5 6 7 8 9 10``).
``--parquet DIR`` also writes the minute data of each seed as Parquet
(``DIR/seed=N/flue_minute.parquet``) and the labels (``truth.csv``); ``--duckdb FILE`` loads
them into a DuckDB file (table ``flue_minute``) for ``lantian``-level experiments.

This module does NOT use ``lantian.demo.signals`` or ``lantian.demo.faults``: the clean
signal model and the fault injectors are written here from the issue's wording, not from
the detector code. Clean model, per point (minute data, China Standard Time):

* load ``L`` in [0, 1]: daily cycle (day shift higher), weekly cycle (weekends lower for
  industry), a slow hourly AR(1) wander, a few stops (hours to days) with ramped start-ups
  and shut-downs; one source type is a steady gas boiler at constant low load;
* flow proportional to load; O2 anti-correlated with load (lean at low load), near ambient
  when stopped; NOx/SO2/PM at the reference O2 follow load, each with its own slow wander;
* analyser noise: AR(1) (phi 0.8 at minute scale) with a relative part of the reading plus
  a floor of 0.3 % of the analyser range (short-term noise of extractive CEMS analysers is
  a fraction of a percent of full scale; HJ 76-2017 allows ±2 % FS zero drift per 24 h);
* quantisation: each point sends concentrations with 1 or 3 decimals, O2 with 1 or 2,
  flow with 1;
* flags: ``N``, or ``F`` while stopped (on some points only; others keep ``N``); the
  enterprise enters ``stopped`` marks for most stops;
* analyser parameters (``i13001`` range, ``i13007`` intercept, ``i13008`` slope) reported
  once a day; legitimate maintenance windows (``C`` flags for 1–3 h, a slope adjusted,
  with an O&M record);
* real process exceedance episodes (several pollutants ramp up for hours) — not faults.

Faults (labels in ``truth``): one injector per detector, written from the issue's words, with
magnitudes and durations drawn over a range that starts at the issue's own boundary
(borderline-but-real faults included). An alarm is an event of severity ``medium`` or
``high``; ``low`` ("worth a look") is what noise and load may raise. Precision = alarms that
match a fault of the same detector / alarms (alarms that only overlap a fault of another
detector on the same point are counted apart as "collateral", not as false alarms);
recall = faults matched by an alarm / faults. Matching: same point, same pollutant (when
both name one), periods overlapping with one hour of slack.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from lantian.engine.quality.inputs import analyser_ranges, point_limits
from lantian.engine.quality.run import DETECTORS, detector_events
from lantian.engine.quality.thresholds import load_thresholds

__all__ = ["Case", "build_case", "detect", "evaluate", "score"]

POLS = ("pm", "so2", "nox")
_RANGE_FACTOR = {"pm": 5.0, "so2": 4.0, "nox": 3.0}  # analyser full scale ≈ this × limit (raw)

# (source type, O2 at full load %, O2 rise at zero load %, fraction of limit at full load)
_TYPES = {
    "coal_power_boiler": (4.5, 2.5, {"pm": 0.35, "so2": 0.55, "nox": 0.65}),
    "cement_kiln": (8.5, 2.5, {"pm": 0.4, "so2": 0.3, "nox": 0.7}),
    "gas_boiler": (3.0, 3.0, {"pm": 0.15, "so2": 0.05, "nox": 0.45}),
}


@dataclass
class Case:
    """One generated month: inputs of the detectors and the labelled faults."""

    minute: pd.DataFrame
    points: pd.DataFrame
    params: pd.DataFrame
    maintenance: pd.DataFrame
    marks: pd.DataFrame
    truth: pd.DataFrame
    month: str
    nuisance: list[str] = field(default_factory=list)


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series."""
    e = rng.normal(0.0, np.sqrt(1 - phi * phi), n)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def _ar1_fast(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """AR(1) via an IIR filter (same law as :func:`_ar1`, fast for minute series)."""
    e = rng.normal(0.0, np.sqrt(1 - phi * phi), n)
    e[0] = rng.normal() * (1 - phi)  # x0 = e0 / (1 - phi) * (1 - phi) after the rescale
    # x_t = phi x_(t-1) + e_t is exponential smoothing with alpha = 1 - phi, rescaled
    alpha = 1.0 - phi
    return pd.Series(e).ewm(alpha=alpha, adjust=False).mean().to_numpy() / alpha


def _load(rng, ts: pd.DatetimeIndex, steady: bool) -> tuple[np.ndarray, np.ndarray]:
    """Load [0..1] per minute and the stopped mask (stops with ramps)."""
    n = len(ts)
    if steady:
        load = np.full(n, rng.uniform(0.25, 0.35))
    else:
        hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60
        day = 0.5 * (1 + np.tanh((hour - 7.5) * 1.5)) * 0.5 * (1 + np.tanh((22 - hour) * 1.5))
        weekend = np.isin(ts.day_of_week.to_numpy(), (5, 6))
        base = rng.uniform(0.55, 0.7)
        amp = rng.uniform(0.15, 0.35)
        load = base + amp * day - np.where(weekend, rng.uniform(0.0, 0.15), 0.0)
        wander = np.repeat(_ar1(rng, n // 60 + 1, 0.95), 60)[:n] * 0.05
        load = np.clip(load + wander, 0.3, 1.0)
    stopped = np.zeros(n, dtype=bool)
    ramp = np.ones(n)
    for _ in range(rng.integers(0, 3)):
        s = int(rng.integers(0, n - 600))
        d = int(rng.integers(6 * 60, 48 * 60))
        e = min(n, s + d)
        stopped[s:e] = True
        r = int(rng.integers(60, 180))  # start-up ramp [min]
        up = np.linspace(0.05, 1.0, r)
        k = min(r, n - e)
        ramp[e:e + k] = up[:k]
        down = np.linspace(1.0, 0.1, 30)
        k0 = max(0, s - 30)
        ramp[k0:s] = down[-(s - k0):] if s > k0 else ramp[k0:s]
    load = np.where(stopped, 0.0, load * ramp)
    return load, stopped


def _clean_point(rng, mn: str, stype: str, lim: dict, o2ref: dict, start: dt.datetime,
                 days: int, *, steady: bool = False) -> tuple[pd.DataFrame, dict]:
    n = days * 1440
    ts = pd.date_range(start, periods=n, freq="min")
    load, stopped = _load(rng, ts, steady)
    o2_full, o2_rise, frac = _TYPES[stype]
    running = load > 0.02
    o2 = o2_full + o2_rise * (1 - load) + 0.12 * _ar1_fast(rng, n, 0.8)
    o2 = np.where(running, np.minimum(o2 + (20.9 - o2) * np.clip(1 - load / 0.3, 0, 1), 20.9),
                  20.9 - np.abs(rng.normal(0, 0.05, n)))
    fmax = rng.uniform(80, 600)
    flow = np.where(running, fmax * (0.25 + 0.75 * load), fmax * 0.01)
    flow = flow * (1 + 0.015 * _ar1_fast(rng, n, 0.8))
    temp = np.where(running, 60 + 80 * load, 25) + rng.normal(0, 0.5, n)
    dec = int(rng.choice([1, 3]))
    o2dec = int(rng.choice([1, 2]))
    df = pd.DataFrame({"mn": mn, "ts": ts})
    ranges = {}
    for p in POLS:
        L = lim.get(p)
        if L is None:
            continue
        ranges[p] = _RANGE_FACTOR[p] * L * (21 - o2_full) / (21 - (o2ref.get(p) or o2_full))
        slow = np.repeat(_ar1(rng, n // 60 + 1, 0.97), 60)[:n] * 0.08
        level = frac[p] * L * rng.uniform(0.7, 1.2)
        corr = level * (0.6 + 0.4 * load) * (1 + slow) if not steady else np.full(n, level)
        factor = (21 - o2) / (21 - o2ref[p]) if o2ref.get(p) else np.ones(n)
        raw = corr * factor
        noise = 0.01 * raw + 0.003 * ranges[p]
        raw = raw + noise * _ar1_fast(rng, n, 0.8)
        raw = np.where(running, np.maximum(raw, 0.0), np.abs(rng.normal(0, 0.003 * ranges[p], n)))
        df[f"{p}_mg_m3"] = np.round(raw, dec)
        df[f"{p}_flag"] = "N"
    df["o2_pct"] = np.round(o2, o2dec)
    df["flow_m3_s"] = np.round(flow, 1)
    df["temp_c"] = np.round(temp, 1)
    marks_f = rng.random() < 0.5  # this logger sends F while stopped
    for c in [c for c in df.columns if c.endswith("_flag")] + ["o2_flag", "flow_flag", "temp_flag"]:
        df[c] = np.where(stopped & marks_f, "F", "N")
    meta = {"dec": dec, "ranges": ranges, "stopped": stopped, "running": running & ~stopped,
            "stype": stype, "o2ref": o2ref, "lim": lim, "sends_zs": bool(rng.random() < 0.6)}
    return df, meta


def _zs(df: pd.DataFrame, meta: dict) -> None:
    for p in POLS:
        col = f"{p}_mg_m3"
        if col not in df.columns:
            continue
        ref = meta["o2ref"].get(p)
        if meta["sends_zs"] and ref:
            o2 = df["o2_pct"].to_numpy()
            zs = df[col].to_numpy() * (21 - ref) / np.maximum(21 - o2, 0.1)
            df[f"{p}_zs"] = np.where(o2 < 19.0, np.round(zs, 3), np.nan)
        else:
            df[f"{p}_zs"] = np.nan


class _Slots:
    """Non-overlapping fault windows per point (6 h buffer between faults)."""

    def __init__(self, rng, n: int, running: np.ndarray):
        self.rng, self.n, self.running = rng, n, running
        self.used: list[tuple[int, int]] = []

    def take(self, dur: int, need_running: bool = True) -> int | None:
        buf = 360
        for _ in range(200):
            s = int(self.rng.integers(60, self.n - dur - 60))
            e = s + dur
            if any(s - buf < b and a < e + buf for a, b in self.used):
                continue
            if need_running and not self.running[s:e].all():
                continue
            self.used.append((s, e))
            return s
        return None


def _label(rows, det, mn, pol, ts, s, e, **info):
    rows.append({"detector": det, "mn": mn, "pollutant": pol, "start": ts[s],
                 "end": ts[e - 1], "info": str(info)})


def _present(rng, df: pd.DataFrame, pols: list[str], meta: dict) -> str | None:
    """A pollutant of the point that reads clearly above zero while running (≥ 2 mg/m3)."""
    cand = [p for p in pols if np.median(df[f"{p}_mg_m3"][meta["running"]]) >= 2.0]
    return str(rng.choice(cand)) if cand else None


def _inject(rng, det: str, df: pd.DataFrame, meta: dict, slots: _Slots, truth: list,
            params: list, start: dt.datetime) -> bool:
    """Inject one fault of detector ``det`` into point ``df`` (in place). Returns success."""
    ts = df["ts"].to_numpy()
    mn = df["mn"].iloc[0]
    pols = [p for p in POLS if f"{p}_mg_m3" in df.columns]
    if det == "constant":  # analyser frozen at its last value, an hour or more
        ch = rng.choice([*pols, "o2", "flow"])
        if ch in pols and np.median(df[f"{ch}_mg_m3"][meta["running"]]) < 0.5:
            ch = "o2"
        dur = int(rng.choice([int(rng.integers(61, 120)), int(rng.integers(120, 720))]))
        s = slots.take(dur)
        if s is None:
            return False
        col = {"o2": "o2_pct", "flow": "flow_m3_s"}.get(ch, f"{ch}_mg_m3")
        df.loc[s:s + dur - 1, col] = df.loc[s, col]
        _label(truth, det, mn, ch, ts, s, s + dur, minutes=dur)
    elif det == "zero":  # zero/negative readings of a present pollutant while running
        p = _present(rng, df, pols, meta)
        if p is None:
            return False
        dur = int(rng.integers(31, 400))
        s = slots.take(dur)
        if s is None:
            return False
        df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(-rng.uniform(0, 0.5) * rng.random(dur), 1)
        _label(truth, det, mn, p, ts, s, s + dur, minutes=dur)
    elif det == "over_range":  # above the analyser range, or clamped at it and flagged T
        p = rng.choice(pols)
        dur = int(rng.integers(6, 180))
        s = slots.take(dur)
        if s is None:
            return False
        rg = meta["ranges"][p]
        if rng.random() < 0.5:
            df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(rg * rng.uniform(1.02, 1.5, dur), 1)
        else:
            df.loc[s:s + dur - 1, f"{p}_mg_m3"] = round(rg, 1)
            df.loc[s:s + dur - 1, f"{p}_flag"] = "T"
        _label(truth, det, mn, p, ts, s, s + dur, minutes=dur)
    elif det == "pinned_under_limit":  # whole month just under the limit, barely moving
        p = rng.choice([q for q in pols if q != "pm"] or pols)
        L, ref = meta["lim"][p], meta["o2ref"].get(p)
        target = L * rng.uniform(0.86, 0.96)
        cv = rng.uniform(0.005, 0.04)
        n = len(df)
        corr = target * (1 + cv * _ar1_fast(rng, n, 0.9))
        o2 = df["o2_pct"].to_numpy()
        raw = corr * ((21 - o2) / (21 - ref) if ref else 1.0)
        run = meta["running"]
        df[f"{p}_mg_m3"] = np.where(run, np.round(raw, meta["dec"]), df[f"{p}_mg_m3"])
        idx = np.flatnonzero(run)
        slots.used.append((0, len(df)))
        _label(truth, det, mn, p, ts, int(idx[0]), int(idx[-1]) + 1, target=target, cv=cv,
               wide=True)
    elif det == "dilution":  # air let in: O2 far above the band while the source runs
        dur = int(rng.integers(2, 48)) * 60 + 60
        s = slots.take(dur)
        if s is None:
            return False
        band = {"coal_power_boiler": 10.0, "cement_kiln": 14.0, "gas_boiler": 9.0}[meta["stype"]]
        o2_new = min(rng.uniform(band + 2.0, 20.5), 20.5)
        sl = slice(s, s + dur)
        o2_old = df["o2_pct"].to_numpy()[sl]
        k = (21 - o2_new) / (21 - o2_old)  # dilution factor of the gas
        for p in pols:
            df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(df[f"{p}_mg_m3"].to_numpy()[sl] * k,
                                                           meta["dec"])
        df.loc[s:s + dur - 1, "o2_pct"] = np.round(o2_new + rng.normal(0, 0.1, dur), 2)
        df.loc[s:s + dur - 1, "flow_m3_s"] = np.round(df["flow_m3_s"].to_numpy()[sl] / k, 1)
        _label(truth, det, mn, None, ts, s, s + dur, o2=o2_new)
    elif det == "false_stop":  # F flags while flow/temperature say the source runs
        dur = int(rng.integers(61, 600))
        s = slots.take(dur)
        if s is None:
            return False
        for c in [c for c in df.columns if c.endswith("_flag")]:
            df.loc[s:s + dur - 1, c] = "F"
        _label(truth, det, mn, None, ts, s, s + dur, minutes=dur, how="flag")
    elif det == "false_stop_mark":  # enterprise 'stopped' mark while the source runs
        dur = int(rng.integers(2, 24)) * 60
        s = slots.take(dur)
        if s is None:
            return False
        meta.setdefault("bad_marks", []).append((ts[s], ts[s + dur - 1] + np.timedelta64(1, "m")))
        _label(truth, "false_stop", mn, None, ts, s, s + dur, minutes=dur, how="mark")
    elif det == "level_shift":  # one analyser channel steps to another level for days
        p = _present(rng, df, pols, meta)
        if p is None:
            return False
        f = rng.uniform(0.35, 0.6) if rng.random() < 0.5 else rng.uniform(1.7, 2.5)
        dur = int(rng.integers(36, 144)) * 60
        s = slots.take(dur, need_running=False)
        if s is None or meta["running"][s:s + dur].mean() < 0.8:
            return False
        df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(df[f"{p}_mg_m3"].to_numpy()[s:s + dur] * f,
                                                       meta["dec"])
        _label(truth, det, mn, p, ts, s, s + dur, factor=f)
    elif det == "spike":  # isolated glitch of one channel, one or two hours
        p = _present(rng, df, pols, meta)
        if p is None:
            return False
        dur = int(rng.integers(60, 121))
        s = slots.take(dur)
        if s is None:
            return False
        f = rng.uniform(3.0, 8.0)
        df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(df[f"{p}_mg_m3"].to_numpy()[s:s + dur] * f,
                                                       meta["dec"])
        _label(truth, det, mn, p, ts, s, s + dur, factor=f)
    elif det == "missing":  # transmission gap
        dur = int(rng.choice([int(rng.integers(61, 180)), int(rng.integers(180, 2880))]))
        s = slots.take(dur, need_running=False)
        if s is None:
            return False
        meta.setdefault("drop", []).append((s, s + dur))
        _label(truth, det, mn, None, ts, s, s + dur, minutes=dur)
    elif det == "flag_abuse":  # exceedance hours hidden under M flags
        p = rng.choice(pols)
        h = int(rng.integers(2, 7))
        s = slots.take(h * 60 + 60)
        if s is None:
            return False
        s = (s // 60 + 1) * 60  # clock-hour aligned
        L, ref = meta["lim"][p], meta["o2ref"].get(p)
        o2 = df["o2_pct"].to_numpy()[s:s + h * 60]
        corr = L * rng.uniform(1.3, 3.0)
        df.loc[s:s + h * 60 - 1, f"{p}_mg_m3"] = np.round(
            corr * ((21 - o2) / (21 - ref) if ref else 1.0), meta["dec"])
        df.loc[s:s + h * 60 - 1, f"{p}_flag"] = "M"
        _label(truth, det, mn, p, ts, s, s + h * 60, hours=h)
    elif det == "calibration_change":  # slope or range changed, no O&M record
        p = rng.choice(pols)
        # "without a maintenance record": no record of the point within two days
        for _ in range(20):
            s = slots.take(120, need_running=False)
            if s is None or not any(abs(s - a) < 2880 for a, _b in meta.get("maint_idx", [])):
                break
            slots.used.pop()
        if s is None:
            return False
        code = "i13008" if rng.random() < 0.7 else "i13001"
        meta.setdefault("param_changes", []).append((p, code, s, rng))
        _label(truth, det, mn, p, ts, s, s + 60, code=code)
    elif det == "zs_mismatch":  # logger's converted values disagree with the correction
        if not meta["sends_zs"]:
            return False
        p = rng.choice([q for q in pols if meta["o2ref"].get(q)])
        dur = int(rng.integers(61, 600))
        s = slots.take(dur)
        if s is None:
            return False
        f = rng.uniform(0.55, 0.85) if rng.random() < 0.5 else rng.uniform(1.15, 1.6)
        meta.setdefault("zs_bias", []).append((p, s, s + dur, f))
        _label(truth, det, mn, p, ts, s, s + dur, factor=f)
    else:
        raise ValueError(det)
    return True


def _nuisance(rng, df: pd.DataFrame, meta: dict, slots: _Slots, maint: list,
              changes: list) -> None:
    """Legitimate conditions that must not alarm: an exceedance episode, a maintenance window
    with its record (C flags, slope adjusted)."""
    mn = df["mn"].iloc[0]
    pols = [p for p in POLS if f"{p}_mg_m3" in df.columns]
    ts = df["ts"].to_numpy()
    if rng.random() < 0.6:  # real process upset: SO2 and NOx ramp up together for hours
        dur = int(rng.integers(4, 10)) * 60
        s = slots.take(dur)
        if s is not None:
            shape = np.interp(np.arange(dur), [0, 120, dur - 120, dur], [1, 1, 1, 1])
            peak = rng.uniform(1.8, 3.5)
            shape = np.interp(np.arange(dur), [0, 120, dur - 120, dur - 1], [1, peak, peak, 1])
            for p in pols:
                if p == "pm":
                    continue
                df.loc[s:s + dur - 1, f"{p}_mg_m3"] = np.round(
                    df[f"{p}_mg_m3"].to_numpy()[s:s + dur] * shape, meta["dec"])
    if rng.random() < 0.7:  # maintenance window with its record
        dur = int(rng.integers(1, 4)) * 60
        s = slots.take(dur, need_running=False)
        if s is not None:
            for p in pols:
                df.loc[s:s + dur - 1, f"{p}_flag"] = "C"
            meta.setdefault("maint_idx", []).append((s, s + dur))
            maint.append({"mn": mn, "start_ts": pd.Timestamp(ts[s]),
                          "end_ts": pd.Timestamp(ts[s + dur - 1])})
            p = rng.choice(pols)
            changes.append((p, "i13008_adjust", s + dur // 2, rng))


def _params(mn: str, df: pd.DataFrame, meta: dict, start: dt.datetime, days: int,
            changes: list, rows: list) -> None:
    """Daily analyser parameters, with the changes (legitimate or not) applied."""
    from lantian.catalog.glossary import glossary

    code = {e.key: e.code_2017 for e in glossary()}
    for p in [p for p in POLS if f"{p}_mg_m3" in df.columns]:
        cur = {"i13001": round(meta["ranges"][p], 1), "i13007": 0.0, "i13008": 1.0}
        # reports at 00:00 each day and right after each change
        pending = sorted((s, c, r) for (q, c, s, r) in changes if q == p)
        times = [(d * 1440, None, None) for d in range(days)] + pending
        for minute, c, r in sorted(times, key=lambda x: x[0]):
            if c is not None:
                if c == "i13008_adjust":  # routine drift correction: a few percent
                    c = "i13008"
                    new = round(cur[c] * (1 + r.choice([-1, 1]) * r.uniform(0.02, 0.08)), 3)
                    col = f"{p}_mg_m3"
                    k = new / cur[c]
                    df.loc[minute:, col] = np.round(df[col].to_numpy()[minute:] * k, meta["dec"])
                elif c == "i13008":
                    new = round(cur[c] * (r.uniform(0.7, 0.92) if r.random() < 0.5
                                          else r.uniform(1.08, 1.3)), 3)
                    col = f"{p}_mg_m3"
                    k = new / cur[c]
                    df.loc[minute:, col] = np.round(df[col].to_numpy()[minute:] * k, meta["dec"])
                else:
                    new = round(cur[c] * r.choice([0.5, 2.0]), 1)
                cur[c] = new
            t = pd.Timestamp(start) + pd.Timedelta(minutes=int(minute))
            for k2, v in cur.items():
                rows.append({"mn": mn, "ts": t, "code": k2, "num": float(v), "text": code[p]})


def build_case(seed: int, n_points: int = 14, days: int = 21,
               month: str = "2026-03") -> Case:
    """Generate one month (``days`` days from the 1st) of ``n_points`` points with faults."""
    rng = np.random.default_rng(seed)
    start = dt.datetime.fromisoformat(month + "-01")
    types = list(_TYPES)
    pts = []
    for i in range(n_points):
        stype = types[i % len(types)]
        pts.append({"mn": f"IND{seed:02d}{i:03d}", "source_type": stype, "jurisdiction": None})
    points = pd.DataFrame(pts)
    lim_t = point_limits(points, start.date()).execute()
    frames, truth, params, maint, marks = [], [], [], [], []
    dets = [d for d in DETECTORS if d != "pinned_under_limit"] + ["false_stop_mark"]
    n_pinned = max(2, n_points // 8)
    # faults are dealt to points round-robin; the first two points stay clean (nuisance)
    queue = [d for _ in range(max(1, n_points // 4)) for d in dets]
    rng.shuffle(queue)
    nuisance = []
    for i, row in points.iterrows():
        lim = {r.pollutant: r.limit_mg_m3 for r in lim_t[lim_t.mn == row.mn].itertuples()}
        ref = {r.pollutant: (None if pd.isna(r.o2_ref_pct) else r.o2_ref_pct)
               for r in lim_t[lim_t.mn == row.mn].itertuples()}
        steady = i == 2  # a genuinely steady gas boiler at low load
        stype = "gas_boiler" if steady else row.source_type
        df, meta = _clean_point(rng, row.mn, stype, lim, ref, start, days, steady=steady)
        points.loc[i, "source_type"] = stype
        slots = _Slots(rng, len(df), meta["running"])
        changes: list = []
        _nuisance(rng, df, meta, slots, maint, changes)
        if i < 3:
            nuisance.append(row.mn)
        elif 3 <= i < 3 + n_pinned:  # a whole month pinned: nothing else on this point
            _inject(rng, "pinned_under_limit", df, meta, slots, truth, params, start)
        else:
            want = 4 if n_points <= 20 else 3
            for _ in range(want):
                if not queue:
                    break
                _inject(rng, queue.pop(), df, meta, slots, truth, params, start)
        changes += meta.get("param_changes", [])
        _params(row.mn, df, meta, start, days, changes, params)
        _zs(df, meta)
        for p, s, e, f in meta.get("zs_bias", []):
            df.loc[s:e - 1, f"{p}_zs"] = np.round(df[f"{p}_zs"].to_numpy()[s:e] * f, 3)
        # enterprise marks: most real stops are marked; plus the false ones
        st = meta["stopped"]
        edges = np.flatnonzero(np.diff(np.r_[0, st.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if rng.random() < 0.8:
                marks.append({"mn": row.mn, "kind": "stopped", "start_ts": df["ts"].iloc[a],
                              "end_ts": df["ts"].iloc[b - 1] + pd.Timedelta(minutes=1)})
        for a, b in meta.get("bad_marks", []):
            marks.append({"mn": row.mn, "kind": "stopped", "start_ts": pd.Timestamp(a),
                          "end_ts": pd.Timestamp(b)})
        keep = np.ones(len(df), dtype=bool)
        for a, b in meta.get("drop", []):
            keep[a:b] = False
        frames.append(df[keep])
    return assemble_case(frames, points, truth, params, maint, marks, month, nuisance)


def assemble_case(frames: list, points: pd.DataFrame, truth: list, params: list, maint: list,
                  marks: list, month: str, nuisance: list) -> Case:
    """A :class:`Case` from the generator's per-point minute frames and row lists.

    Shared with ``qc_blind.py``: only the assembly, never the modelling of outlets or faults.
    """
    minute = pd.concat(frames, ignore_index=True)
    minute["ts"] = minute["ts"].astype("datetime64[us]")
    tr = pd.DataFrame(truth, columns=["detector", "mn", "pollutant", "start", "end", "info"])
    pr = pd.DataFrame(params, columns=["mn", "ts", "code", "num", "text"])
    pr["ts"] = pr["ts"].astype("datetime64[us]")
    mt = pd.DataFrame(maint, columns=["mn", "start_ts", "end_ts"])
    mk = pd.DataFrame(marks, columns=["mn", "kind", "start_ts", "end_ts"])
    for f in (mt, mk):
        for c in ("start_ts", "end_ts"):
            f[c] = pd.to_datetime(f[c]).astype("datetime64[us]")
    return Case(minute, points[["mn", "source_type", "jurisdiction"]], pr, mt, mk, tr, month,
                nuisance)


def detect(case: Case, con=None, detectors=None) -> pd.DataFrame:
    """Run every detector (or ``detectors``) at the default thresholds on DuckDB."""
    import inspect

    con = con or ibis.duckdb.connect()
    th = load_thresholds()
    minute = con.create_table("flue_minute", case.minute, overwrite=True)
    start = dt.datetime.fromisoformat(case.month + "-01")
    limits = point_limits(case.points, start.date())
    params = con.create_table("params", case.params, overwrite=True)
    maint = con.create_table("maint", case.maintenance, overwrite=True)
    pts = ibis.memtable(case.points[["mn", "source_type"]].astype("string"))
    kw = {"month": case.month, "points": pts, "limits": limits,
          "ranges": analyser_ranges(params, limits, th), "params": params,
          "maintenance": maint, "keys": list(POLS), "thresholds": th}
    if "marks" in inspect.signature(detector_events).parameters:
        kw["marks"] = con.create_table("marks", case.marks, overwrite=True)
    if detectors is not None:
        kw["detectors"] = detectors
    parts = detector_events(minute, **kw)
    frames = [con.execute(e) for e in parts.values()]
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return out


def _overlap(a_s, a_e, b_s, b_e, slack) -> bool:
    return a_s <= b_e + slack and b_s <= a_e + slack


def score(events: pd.DataFrame, truth: pd.DataFrame,
          slack: pd.Timedelta | None = None) -> pd.DataFrame:
    """Per detector: alarms, true alarms, collateral, false alarms, faults, found, lows."""
    slack = pd.Timedelta(hours=1) if slack is None else slack
    ev = events.copy()
    ev["start"] = pd.to_datetime(ev["start"])
    ev["end"] = pd.to_datetime(ev["end"])
    tr = truth.copy()
    tr["wide"] = tr["info"].str.contains("'wide': True")
    rows = []

    def match(e, t) -> bool:
        if e.mn != t.mn:
            return False
        if isinstance(e.pollutant, str) and isinstance(t.pollutant, str) and \
                e.pollutant != t.pollutant:
            return False
        return _overlap(e.start, e.end, t.start, t.end, slack)

    for det in DETECTORS:
        e = ev[ev.detector == det]
        alarms = e[e.severity.isin(["medium", "high"])]
        t = tr[tr.detector == det]
        other = _effect(tr[(tr.detector != det) & ~tr.wide])
        true_n = coll = false_n = 0
        false_rows = []
        for a in alarms.itertuples():
            if any(match(a, b) for b in t.itertuples()):
                true_n += 1
            elif any(a.mn == b.mn and _overlap(a.start, a.end, b.start, b.end, slack)
                     for b in other.itertuples()):
                coll += 1
            else:
                false_n += 1
                false_rows.append(a)
        found = sum(any(match(a, b) for a in alarms.itertuples()) for b in t.itertuples())
        found_any = sum(any(match(a, b) for a in e.itertuples()) for b in t.itertuples())
        prec = true_n / (true_n + false_n) if true_n + false_n else 1.0
        rec = found / len(t) if len(t) else float("nan")
        rows.append({"detector": det, "alarms": len(alarms), "true": true_n,
                     "collateral": coll, "false": false_n, "faults": len(t), "found": found,
                     "found_any_severity": found_any, "low_events": int((e.severity == "low")
                                                                         .sum()),
                     "precision": prec, "recall": rec})
    return pd.DataFrame(rows)


def _effect(truth: pd.DataFrame) -> pd.DataFrame:
    """Faults with ``end`` = the end of their effect on the data (for collateral alarms).

    (qcdetect) An unrecorded slope change (i13008) scales the values from its minute to the
    month's end (:func:`_params`), so an alarm on the changed values overlaps it; its label
    spans only the hour of the change (what ``calibration_change`` must find). (qcblind) The
    same for an unrecorded intercept change (i13007, an offset from its minute on), which only
    ``benchmarks/qc_blind.py`` injects.
    """
    out = truth.copy()
    slope = (out.detector == "calibration_change") & out["info"].str.contains("i13008|i13007")
    out.loc[slope, "end"] = pd.Timestamp("2200-01-01")
    return out


def evaluate(seed: int, n_points: int, days: int) -> tuple[pd.DataFrame, pd.DataFrame, Case]:
    """Build, detect and score one seed; returns (scores, events, case)."""
    case = build_case(seed, n_points, days)
    events = detect(case)
    return score(events, case.truth), events, case


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--parquet", type=Path, default=None)
    ap.add_argument("--duckdb", type=Path, default=None)
    ap.add_argument("--show-false", action="store_true", help="print every false alarm")
    ap.add_argument("--compare-screens", action="store_true",
                    help="also run spike and level_shift with screen=False (full rolling "
                         "windows, the session-4 path) and list both paths' events")
    ap.add_argument("--per-seed", action="store_true",
                    help="also print recall and precision per detector and seed")
    args = ap.parse_args(argv)
    allsc = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        sc, ev, case = evaluate(seed, args.points, args.days)
        el = time.perf_counter() - t0
        sc["seed"] = seed
        allsc.append(sc)
        print(f"seed {seed}: {len(case.minute):,} minute rows, {len(case.truth)} faults, "
              f"{len(ev)} events, {el:.1f} s", file=sys.stderr)
        if args.show_false:
            _show_false(ev, case)
        if args.compare_screens:
            _compare_screens(seed, ev, case)
        if args.parquet is not None:
            d = args.parquet / f"seed={seed}"
            d.mkdir(parents=True, exist_ok=True)
            case.minute.to_parquet(d / "flue_minute.parquet")
            case.truth.to_csv(d / "truth.csv", index=False)
        if args.duckdb is not None:
            import duckdb

            c = duckdb.connect(str(args.duckdb))
            c.register("_m", case.minute)
            c.execute(f"CREATE OR REPLACE TABLE flue_minute_seed{seed} AS SELECT * FROM _m")
            c.close()
    s = pd.concat(allsc, ignore_index=True)
    agg = s.groupby("detector", sort=False)[["alarms", "true", "collateral", "false", "faults",
                                             "found", "found_any_severity",
                                             "low_events"]].sum()
    agg["precision"] = agg["true"] / (agg["true"] + agg["false"]).replace(0, np.nan)
    agg["recall"] = agg["found"] / agg["faults"]
    # strict: collateral alarms (overlapping a fault of another detector) counted as false
    agg["precision_strict"] = agg["true"] / agg["alarms"].replace(0, np.nan)
    agg["min_precision_seed"] = s.groupby("detector", sort=False)["precision"].min()
    agg["min_recall_seed"] = s.groupby("detector", sort=False)["recall"].min()
    pd.set_option("display.width", 200)
    print(agg.round(3).to_string())
    if args.per_seed:  # the spread: recall and precision of every detector on every seed
        for col in ("recall", "precision"):
            print(f"\n{col} per seed")
            print(s.pivot(index="detector", columns="seed", values=col)
                  .reindex(list(DETECTORS)).round(2).to_string())
    return 0


def _compare_screens(seed: int, ev: pd.DataFrame, case: Case) -> None:
    """Print spike and level_shift events of the screened and the full-window path."""
    from functools import partial

    from lantian.engine.quality import statistics

    names = ["spike", "level_shift"]
    saved = statistics.spike, statistics.level_shift
    statistics.spike = partial(saved[0], screen=False)
    statistics.level_shift = partial(saved[1], screen=False)
    try:
        full = detect(case, detectors=names)
    finally:
        statistics.spike, statistics.level_shift = saved
    cols = ["detector", "mn", "pollutant", "start", "end", "severity", "evidence"]
    for name in names:
        a = sorted(map(tuple, ev[ev.detector == name][cols].astype(str).values.tolist()))
        b = sorted(map(tuple, full[full.detector == name][cols].astype(str).values.tolist()))
        print(f"seed {seed} {name}: screened {len(a)} events, full windows {len(b)}, "
              f"identical {a == b}", file=sys.stderr)
        for row in sorted(set(a) | set(b)):
            tag = "both" if row in a and row in b else ("screened only" if row in a
                                                        else "full only")
            print(f"  {tag}: {' '.join(row[1:6])} {row[6]}", file=sys.stderr)


def _show_false(ev: pd.DataFrame, case: Case) -> None:
    """Print alarms that match no fault of their detector, and faults no alarm found."""
    sc = ev.copy()
    sc["start"] = pd.to_datetime(sc["start"])
    sc["end"] = pd.to_datetime(sc["end"])
    al = sc[sc.severity.isin(["medium", "high"])]
    for b in case.truth.itertuples():
        e = al[(al.detector == b.detector) & (al.mn == b.mn)]
        if not any(_overlap(a.start, a.end, b.start, b.end, pd.Timedelta(hours=1))
                   and (not isinstance(b.pollutant, str) or a.pollutant in (None, b.pollutant)
                        or not isinstance(a.pollutant, str))
                   for a in e.itertuples()):
            near = sc[(sc.mn == b.mn) & (sc.detector == b.detector)]
            print("MISSED", b.detector, b.mn, b.pollutant, b.start, b.end, b.info,
                  near[["severity", "start", "evidence"]].to_dict("records"), file=sys.stderr)
    eff = _effect(case.truth)
    for a in al.itertuples():
        t = eff[eff.mn == a.mn]
        hit = [b.detector for b in t.itertuples()
               if _overlap(a.start, a.end, b.start, b.end, pd.Timedelta(hours=1))]
        if a.detector not in hit:
            print("FALSE" if not hit else f"COLLATERAL of {hit}", a.detector, a.mn,
                  a.pollutant, a.start, a.end, a.severity, a.evidence, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""Injection of labelled quality-control faults into clean minute signals.

Each injector changes the arrays of one point in place inside a window where the source runs
and no other fault sits, and returns the ground-truth label: detector name, pollutant (a
glossary key such as ``so2``, or None for the whole point), start and end (CST, minute starts,
inclusive) and the parameters used. Fault sizes come from the physics of the fraud or failure
(a dilution ratio, a frozen analyser, a slope change), not from the detectors' thresholds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lantian.demo.profiles import POLLUTANTS, SourceProfile
from lantian.demo.signals import AMBIENT_O2_PCT, PointSignals

__all__ = ["FAULT_KINDS", "Params", "analyser_range", "inject"]

FAULT_KINDS: tuple[str, ...] = (
    "constant", "zero", "over_range", "pinned_under_limit", "dilution", "false_stop",
    "level_shift", "spike", "missing", "flag_abuse", "calibration_change", "zs_mismatch",
)

Params = list[dict]  # value_long-like rows: ts, code, field, num, text (PolId)


def analyser_range(prof: SourceProfile, pollutant: str) -> float:
    """Demo analyser range [mg/m3]: a round number about five times the design limit."""
    raw = 5 * prof.limit[pollutant]
    step = 10 ** np.floor(np.log10(raw))
    return float(np.ceil(raw / step) * step)


def _window(rng, s: PointSignals, busy: np.ndarray, length: int, *, align: int = 1,
            need_running: bool = True) -> int | None:
    """Start index of a free window of ``length`` minutes (running throughout if asked)."""
    n = len(s.ts)
    margin = 180
    for _ in range(200):
        if n - length - 2 * margin <= 0:
            return None
        i = int(rng.integers(margin, n - length - margin))
        i -= i % align
        sl = slice(i - margin, i + length + margin)
        if busy[sl].any():
            continue
        if need_running and not s.running[i : i + length].all():
            continue
        busy[sl] = True
        return i
    return None


def _label(s: PointSignals, det: str, pol: str | None, i: int, j: int, **extra) -> dict:
    return {"detector": det, "kind": det, "pollutant": pol,
            "start": pd.Timestamp(s.ts[i]), "end": pd.Timestamp(s.ts[j - 1]), **extra}


def _constant(rng, s, prof, busy, params):
    pol = str(rng.choice([*POLLUTANTS, "o2", "flow"]))
    length = int(rng.integers(90, 360))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    arr = {"o2": s.o2, "flow": s.flow}.get(pol, s.conc.get(pol))
    arr[i : i + length] = np.round(arr[i], 2 if pol in ("o2", "flow") else 3)
    return _label(s, "constant", pol, i, i + length, minutes=length)


def _zero(rng, s, prof, busy, params):
    pol = str(rng.choice([p for p in POLLUTANTS if prof.typical[p] >= 2.0]))
    length = int(rng.integers(60, 300))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    s.conc[pol][i : i + length] = 0.0 if rng.random() < 0.6 else -abs(rng.normal(0.5, 0.3))
    return _label(s, "zero", pol, i, i + length, minutes=length)


def _over_range(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    length = int(rng.integers(20, 120))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    rng_max = analyser_range(prof, pol)
    s.conc[pol][i : i + length] = rng_max * rng.uniform(1.0, 1.1, length)
    s.flags[pol][i : i + length] = "T"
    return _label(s, "over_range", pol, i, i + length, range=rng_max)


def _pinned(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    lim = prof.limit[pol]
    level = lim * rng.uniform(0.86, 0.95)  # the value at reference O2 the plant reports
    run = s.running
    to_measured = 1.0
    if prof.ref_o2_pct is not None:
        to_measured = (21.0 - s.o2[run]) / (21.0 - prof.ref_o2_pct)
    s.conc[pol][run] = level * to_measured * (1 + rng.normal(0, 0.012, int(run.sum())))
    first, last = np.flatnonzero(run)[[0, -1]]
    return _label(s, "pinned_under_limit", pol, first, last + 1, level=level, limit=lim)


def _dilution(rng, s, prof, busy, params):
    length = int(rng.integers(4 * 60, 14 * 60))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    sl = slice(i, i + length)
    d = rng.uniform(2.0, 4.0)  # dilution ratio: total gas / flue gas
    ambient_t = 15.0
    s.o2[sl] = AMBIENT_O2_PCT - (AMBIENT_O2_PCT - s.o2[sl]) / d
    s.flow[sl] = s.flow[sl] * d
    s.temp[sl] = ambient_t + (s.temp[sl] - ambient_t) / d
    for p in POLLUTANTS:
        s.conc[p][sl] = s.conc[p][sl] / d
    return _label(s, "dilution", None, i, i + length, ratio=round(d, 2))


def _false_stop(rng, s, prof, busy, params):
    length = int(rng.integers(3 * 60, 16 * 60))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    for f in s.flags.values():
        f[i : i + length] = "F"
    return _label(s, "false_stop", None, i, i + length)


def _level_shift(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    length = int(rng.integers(2 * 1440, 5 * 1440))
    i = _window(rng, s, busy, length, need_running=False)
    if i is None or s.running[i : i + length].mean() < 0.5:
        return None
    factor = rng.uniform(0.3, 0.5) if rng.random() < 0.6 else rng.uniform(2.0, 2.8)
    s.conc[pol][i : i + length] *= factor
    return _label(s, "level_shift", pol, i, i + length, factor=round(factor, 2))


def _spike(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    length = 60 * int(rng.integers(1, 3))
    i = _window(rng, s, busy, length, align=60)
    if i is None:
        return None
    s.conc[pol][i : i + length] *= rng.uniform(4.0, 8.0)
    return _label(s, "spike", pol, i, i + length)


def _missing(rng, s, prof, busy, params):
    length = int(rng.integers(2 * 60, 30 * 60))
    i = _window(rng, s, busy, length, need_running=False)
    if i is None:
        return None
    s.keep[i : i + length] = False
    return _label(s, "missing", None, i, i + length, minutes=length)


def _flag_abuse(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    length = int(rng.integers(3 * 60, 9 * 60))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    lim = prof.limit[pol]
    ramp = np.minimum(1.0, np.arange(length) / 40.0)
    s.conc[pol][i : i + length] = np.maximum(
        s.conc[pol][i : i + length], lim * (1 + rng.uniform(0.4, 1.2) * ramp)
    )
    s.flags[pol][i : i + length] = "M"
    return _label(s, "flag_abuse", pol, i, i + length, limit=lim)


def _calibration_change(rng, s, prof, busy, params):
    pol = str(rng.choice(POLLUTANTS))
    days = np.flatnonzero((pd.DatetimeIndex(s.ts).hour == 0) & (pd.DatetimeIndex(s.ts).minute == 0))
    if len(days) < 3:
        return None
    for _ in range(50):
        i = int(days[int(rng.integers(1, len(days)))])
        # keep O&M visits away from the change, or the label would be ambiguous
        near = slice(max(0, i - 1800), i + 1800)
        if not busy[near].any():
            busy[near] = True
            break
    else:
        return None
    code = "i13008" if rng.random() < 0.7 else "i13007"
    new = (round(rng.uniform(0.6, 0.85), 3) if code == "i13008"
           else round(prof.typical[pol] * rng.uniform(0.3, 0.6), 3))
    for row in params:
        if row["text"] == _CODES[pol] and row["code"] == code and row["ts"] >= s.ts[i]:
            row["num"] = new
    return _label(s, "calibration_change", pol, i, i + 1, code=code)


def _zs_mismatch(rng, s, prof, busy, params):
    if prof.ref_o2_pct is None:
        return None
    pol = str(rng.choice(POLLUTANTS))
    length = int(rng.integers(6 * 60, 30 * 60))
    i = _window(rng, s, busy, length)
    if i is None:
        return None
    factor = rng.uniform(0.45, 0.75)
    s.zs_factor.setdefault(pol, np.ones(len(s.ts)))[i : i + length] = factor
    return _label(s, "zs_mismatch", pol, i, i + length, factor=round(factor, 2))


_CODES = {"pm": "a34013", "so2": "a21026", "nox": "a21002"}

_INJECTORS: dict[str, Callable] = {
    "constant": _constant, "zero": _zero, "over_range": _over_range,
    "pinned_under_limit": _pinned, "dilution": _dilution, "false_stop": _false_stop,
    "level_shift": _level_shift, "spike": _spike, "missing": _missing,
    "flag_abuse": _flag_abuse, "calibration_change": _calibration_change,
    "zs_mismatch": _zs_mismatch,
}


def inject(rng: np.random.Generator, s: PointSignals, prof: SourceProfile, kind: str,
           busy: np.ndarray, params: Params) -> dict | None:
    """Inject one fault of ``kind``; return its label, or None when no window fits."""
    return _INJECTORS[kind](rng, s, prof, busy, params)

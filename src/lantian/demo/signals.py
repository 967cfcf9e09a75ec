"""Clean minute signals of one monitoring point: operating pattern, load, flue-gas state.

Everything is vectorised with numpy over the minutes of the generated period. Times are
China Standard Time wall-clock minutes; ``ts[i]`` is the start of minute ``i``
(HJ 212-2017 §6.6, DataTime = period start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lantian.demo.profiles import POLLUTANTS, SourceProfile

__all__ = ["AMBIENT_O2_PCT", "PointSignals", "clean_signals", "lagged"]

AMBIENT_O2_PCT = 20.9  # O2 in dry ambient air [%] (physics, not a regulatory number)


@dataclass
class PointSignals:
    """Minute arrays of one point; concentrations [mg/m3], O2 [%], flow [m3/s], temp [°C]."""

    ts: np.ndarray
    running: np.ndarray
    load: np.ndarray
    conc: dict[str, np.ndarray]
    o2: np.ndarray
    flow: np.ndarray
    temp: np.ndarray
    pressure: np.ndarray
    humidity: np.ndarray
    flags: dict[str, np.ndarray]
    keep: np.ndarray
    zs_factor: dict[str, np.ndarray] = field(default_factory=dict)


def lagged(x: np.ndarray, tau_min: float) -> np.ndarray:
    """First-order lag of ``x`` with time constant ``tau_min`` [min] (thermal inertia)."""
    return pd.Series(x, dtype="float64").ewm(alpha=1.0 / tau_min, adjust=False).mean().to_numpy()


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) series of length ``n`` with stationary standard deviation ``sd``."""
    eps = rng.normal(0.0, sd * np.sqrt(1 - phi * phi), n)
    eps[0] = rng.normal(0.0, sd) * (1 - phi)  # start in the stationary distribution
    # AR(1) as an exponential filter of white noise: x_t = phi x_{t-1} + eps_t
    out = pd.Series(eps).ewm(alpha=1 - phi, adjust=False).mean().to_numpy() / (1 - phi)
    return out


def _hourly_to_minutes(h: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of hourly values onto minutes."""
    xh = np.arange(len(h)) * 60.0
    return np.interp(np.arange(n), xh, h)


def _schedule(rng: np.random.Generator, prof: SourceProfile, ts: pd.DatetimeIndex) -> np.ndarray:
    """Whether the plant intends to run in each minute (before thermal lag)."""
    n = len(ts)
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0
    day = (ts.normalize() - ts[0].normalize()).days.to_numpy()
    ndays = int(day.max()) + 1
    if prof.pattern == "daytime":
        on = rng.normal(6.0, 0.4, ndays)[day]
        off = rng.normal(22.0, 0.4, ndays)[day]
        run = (hour >= on) & (hour < off)
    elif prof.pattern == "foundry":
        on = rng.normal(8.0, 0.3, ndays)[day]
        off = rng.normal(20.0, 0.3, ndays)[day]
        run = (hour >= on) & (hour < off) & (ts.day_of_week.to_numpy() != 6)
    else:
        run = np.ones(n, dtype=bool)
    if prof.pattern in ("continuous", "grid") and rng.random() < 0.5 and n > 3 * 1440:
        length = int(rng.integers(8 * 60, 48 * 60))
        start = int(rng.integers(1440, n - length - 1440))
        run[start : start + length] = False
    return run


def clean_signals(
    rng: np.random.Generator, prof: SourceProfile, start: pd.Timestamp, minutes: int
) -> PointSignals:
    """Fault-free minute signals of one point of type ``prof`` from ``start`` (CST)."""
    ts = pd.date_range(start, periods=minutes, freq="min")
    n = minutes
    sched = _schedule(rng, prof, ts)
    state = lagged(sched.astype(float), 30.0)  # combustion / fan state 0..1
    hot = lagged(sched.astype(float), 90.0)  # stack temperature state 0..1
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0
    nh = n // 60 + 2
    slow = _hourly_to_minutes(_ar1(rng, nh, 0.9, 0.06), n)
    if prof.pattern == "grid":
        demand = 0.5 + 0.25 * np.sin(2 * np.pi * (hour - 8) / 24) + 0.15 * np.sin(
            4 * np.pi * (hour - 5) / 24
        )
        load = np.clip(0.55 + 0.4 * demand + slow, 0.4, 1.0)
    else:
        load = np.clip(0.85 + 0.08 * np.sin(2 * np.pi * (hour - 10) / 24) + slow, 0.5, 1.0)
    running = state > 0.5
    ambient_t = 15 + 6 * np.sin(2 * np.pi * (hour - 9) / 24)
    temp = ambient_t + (prof.temp_c - ambient_t) * hot * (0.9 + 0.1 * load)
    temp += rng.normal(0, 0.6, n)
    o2_run = prof.o2_pct + 0.8 * (1 - load) + _hourly_to_minutes(_ar1(rng, nh, 0.8, 0.25), n)
    o2 = AMBIENT_O2_PCT - (AMBIENT_O2_PCT - o2_run) * state + rng.normal(0, prof.o2_sd / 4, n)
    o2 = np.clip(o2, 0.5, AMBIENT_O2_PCT)
    flow = prof.flow_m3_s * (0.05 + 0.95 * state * load) * (1 + rng.normal(0, 0.015, n))
    conc = {}
    for p in POLLUTANTS:
        typ = prof.typical[p]
        level = typ * (0.7 + 0.3 * load) * np.exp(_hourly_to_minutes(_ar1(rng, nh, 0.85, 0.12), n))
        startup = np.clip(1 - lagged(sched.astype(float), 120.0) - (1 - state), 0, 1)
        level = level * (1 + 0.5 * startup)
        noise = rng.normal(0, 0.025, n) * level + rng.normal(0, 0.01 * typ + 0.01, n)
        idle = rng.normal(0, 0.02 * typ + 0.02, n)
        conc[p] = state * (level + noise) + (1 - state) * idle
    flags = {p: np.where(running, "N", "F").astype(object) for p in (*POLLUTANTS, "o2", "flow")}
    pressure = 101.0 - 0.4 * state + rng.normal(0, 0.05, n)
    humidity = np.clip(6 + 4 * state + rng.normal(0, 0.3, n), 0.5, 30)
    return PointSignals(
        ts=ts.to_numpy(), running=running, load=load, conc=conc, o2=o2, flow=flow, temp=temp,
        pressure=pressure, humidity=humidity, flags=flags, keep=np.ones(n, dtype=bool),
    )

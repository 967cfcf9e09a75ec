"""Generate a synthetic province-month of CEMS minute data straight to a Parquet lake.

Layout (the same Hive layout as ``lantian.engine.backends.export_month_to_lake``)::

    OUT/flue_minute/month=YYYY-MM/mn=<MN>/part-0.parquet
    OUT/points.parquet          (mn, source_type, stop_flow_threshold)

Each point gets a source type from a realistic mix, a diurnal load pattern, noise, start-ups
and shutdowns (F flags with the flow near zero), daily calibration (C), maintenance (M),
occasional faults (D), set values (S) and exceedance episodes. Point ``i`` depends only on
``(seed, i)``, so the first 500 points of a 5,000-point run equal a 500-point run.
Usage::

    python benchmarks/gen_province.py --out benchmarks/data/province --points 5000 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FLAGS = ["N", "F", "M", "C", "D", "S", "T", "B"]
TYPES = [  # source type, share, O2 mean [%], pollutant base [mg/m3]
    ("cement_kiln", 0.30, 10.0, {"pm": 4, "so2": 18, "nox": 35, "nh3": 4}),
    ("coke_oven_stack", 0.15, 8.0, {"pm": 5, "so2": 15, "nox": 100, "nh3": 4, "nmhc": 50}),
    ("coal_power_boiler", 0.20, 6.0, {"pm": 3, "so2": 20, "nox": 32}),
    ("sinter_head", 0.10, 16.0, {"pm": 5, "so2": 20, "nox": 35}),
    ("gas_boiler", 0.25, 3.5, {"pm": 2, "so2": 5, "nox": 60}),
]
KEYS = ["pm", "so2", "nox", "nh3", "nmhc"]


def _flag_array(codes: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(FLAGS))


def point_table(i: int, seed: int, start: dt.datetime, days: int) -> tuple[pa.Table, dict]:
    rng = np.random.default_rng([seed, i])
    n = days * 1440
    t = np.arange(n)
    u = rng.random()
    acc = 0.0
    stype, _, o2m, base = TYPES[-1]
    for cand in TYPES:
        acc += cand[1]
        if u <= acc:
            stype, _, o2m, base = cand
            break
    mn = f"43{i:012d}"
    load = 1 + 0.15 * np.sin(2 * np.pi * (t % 1440) / 1440 - rng.random() * 6)
    flag = np.zeros(n, dtype=np.int8)
    flow_base = rng.uniform(30, 300)
    flow = flow_base * load * rng.normal(1, 0.03, n)
    # shutdowns: 0–2 per month, 6–48 h, instrument F and flow near zero
    for _ in range(rng.integers(0, 3)):
        s = rng.integers(0, n - 60)
        e = min(n, s + rng.integers(6, 49) * 60)
        flag[s:e] = 1
        flow[s:e] = flow_base * rng.uniform(0.001, 0.02)
    # daily calibration 15 min at a fixed time, maintenance 0–3 blocks of 1–4 h
    cal = rng.integers(0, 1440 - 15)
    for d in range(days):
        flag[d * 1440 + cal : d * 1440 + cal + 15] = np.where(
            flag[d * 1440 + cal : d * 1440 + cal + 15] == 0,
            3,
            flag[d * 1440 + cal : d * 1440 + cal + 15],
        )
    for _ in range(rng.integers(0, 4)):
        s = rng.integers(0, n - 240)
        flag[s : s + rng.integers(60, 241)] = 2
    # scattered faults, set values, over-range, communication loss
    r = rng.random(n)
    flag[(r < 0.002) & (flag == 0)] = 4
    flag[(r > 0.999) & (flag == 0)] = 5
    flag[(r > 0.9985) & (r <= 0.999) & (flag == 0)] = 7
    o2 = np.clip(rng.normal(o2m, 0.6, n), 0.5, 20.8)
    cols: dict[str, pa.Array] = {
        "ts": pa.array(np.datetime64(start, "us") + t.astype("timedelta64[m]"), pa.timestamp("us")),
        "packet_id": pa.array(t.astype(np.int64) + i * n),
    }
    episodes = [
        (rng.integers(0, n - 480), rng.integers(120, 481)) for _ in range(rng.integers(0, 4))
    ]
    fa = _flag_array(flag)
    for k in KEYS:
        if k in base:
            v = base[k] * load * rng.lognormal(0, 0.15, n)
            for s, ln in episodes:
                v[s : s + ln] *= rng.uniform(1.5, 3.0)
            cols[f"{k}_mg_m3"] = pa.array(np.round(v, 3))
            cols[f"{k}_flag"] = fa
        else:
            cols[f"{k}_mg_m3"] = pa.nulls(n, pa.float64())
            cols[f"{k}_flag"] = pa.nulls(n, pa.string())
    cols["o2_pct"] = pa.array(np.round(o2, 2))
    cols["o2_flag"] = fa
    cols["flow_m3_s"] = pa.array(np.round(flow, 2))
    cols["flow_flag"] = fa
    cols["temp_c"] = pa.array(np.round(rng.normal(120, 5, n), 1))
    cols["temp_flag"] = fa
    info = {"mn": mn, "source_type": stype, "stop_flow_threshold": None}
    return pa.table(cols), info


def _write_range(args) -> list[dict]:
    lo, hi, seed, start, days, root = args
    out = []
    for i in range(lo, hi):
        tbl, info = point_table(i, seed, start, days)
        d = root / f"mn={info['mn']}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(tbl, d / "part-0.parquet", compression="zstd")
        out.append(info)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--start", default="2024-06-01")
    ap.add_argument("--seed", type=int, default=212)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    start = dt.datetime.fromisoformat(a.start)
    month = start.strftime("%Y-%m")
    root = a.out / "flue_minute" / f"month={month}"
    t0 = time.perf_counter()
    chunks = [
        (lo, min(a.points, lo + 250), a.seed, start, a.days, root) for lo in range(0, a.points, 250)
    ]
    infos = []
    with multiprocessing.Pool(a.jobs) as pool:
        for part in pool.imap(_write_range, chunks):
            infos.extend(part)
            print(f"{len(infos)} points, {time.perf_counter() - t0:.0f} s", flush=True)
    pq.write_table(pa.Table.from_pylist(infos), a.out / "points.parquet")
    rows = a.points * a.days * 1440
    print(f"wrote {rows:,} minute rows for {a.points} points in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

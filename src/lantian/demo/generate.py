"""The demo province: minute data of many points with labelled faults (``lantian demo generate``).

Writes into ``out``:

- ``flue_minute/<MN>.parquet`` — columns exactly like the ``flue_minute`` table (CST wall-clock
  ``ts`` = minute start), or ``hj212/<MN>.txt`` with HJ 212-2017 minute packets (CN=2051);
- ``params.parquet`` — analyser parameters (``i13001`` range, ``i13007`` intercept, ``i13008``
  slope) as ``value_long`` rows, the pollutant code (PolId) in ``text``;
- ``registry.json`` — enterprises, districts, outlets and points (MN, password, source type);
- ``maintenance.csv`` — the O&M contractor's maintenance and calibration records;
- ``events.csv`` — ground truth: every injected fault (``detector`` set) and every ordinary
  event (start-up, shutdown, maintenance, calibration, exceedance; ``detector`` empty).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lantian.demo.faults import FAULT_KINDS, Params, analyser_range, inject
from lantian.demo.profiles import POLLUTANTS, SourceProfile
from lantian.demo.registry import _CODES, DemoPoint, make_registry
from lantian.demo.signals import PointSignals, clean_signals
from lantian.errors import ConfigurationError

__all__ = ["GenerateSummary", "flue_minute_columns", "generate", "point_frame"]


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    out: Path
    points: int
    rows: int
    faults: int
    events: int


_NEEDS_LIMIT = ("pinned_under_limit", "flag_abuse", "zs_mismatch")


def catalogue_profile(prof: SourceProfile, on) -> SourceProfile:
    """Return the profile with the limit catalogue's limits and reference O2, where it has them.

    Faults such as pinned-under-limit are designed around the limit the platform will apply;
    source types the catalogue lacks keep the profile's design values (``from_catalogue``
    False) and get no limit-based faults.
    """
    from dataclasses import replace

    from lantian.catalog.limits import applicable_limits
    from lantian.demo.load import DEMO_JURISDICTION

    lims = applicable_limits(prof.source_type, on, DEMO_JURISDICTION)
    if not all(p in lims for p in POLLUTANTS):
        return replace(prof, from_catalogue=False)
    refs = {lims[p].o2_ref_pct for p in POLLUTANTS}
    ref = refs.pop() if len(refs) == 1 else prof.ref_o2_pct
    return replace(prof, limit={p: lims[p].limit_mg_m3 for p in POLLUTANTS}, ref_o2_pct=ref,
                   from_catalogue=True)


def flue_minute_columns() -> list[tuple[str, str]]:
    """(name, DuckDB type) of every ``flue_minute`` column, read from the migrations."""
    import duckdb

    from lantian.store.db import migrate

    con = duckdb.connect()
    try:
        migrate(con)
        return [(r[0], r[1]) for r in con.execute("DESCRIBE flue_minute").fetchall()]
    finally:
        con.close()


_ARROW = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "BIGINT": pa.int64(),
          "DOUBLE": pa.float64()}


def _schema() -> pa.Schema:
    return pa.schema([pa.field(n, _ARROW[t]) for n, t in flue_minute_columns()])


def _legit_events(rng, s: PointSignals, prof: SourceProfile, busy, params: Params,
                  mn: str, maint: list[dict], kinds: list[str]) -> list[dict]:
    """Ordinary operation: daily auto-calibration, maintenance with record, exceedances."""
    ev: list[dict] = []
    ts = pd.DatetimeIndex(s.ts)
    cal = (ts.hour == 2) & (ts.minute < 8)
    for p in POLLUTANTS:
        s.flags[p][cal] = "C"
    run = s.running.astype(int)
    edges = np.flatnonzero(np.diff(run)) + 1
    for e in edges:
        kind = "startup" if run[e] == 1 else "shutdown"
        ev.append({"detector": "", "kind": kind, "pollutant": None,
                   "start": ts[e], "end": ts[min(e + 59, len(ts) - 1)]})
    from lantian.demo.faults import _window

    if rng.random() < 0.7:
        length = int(rng.integers(120, 240))
        i = _window(rng, s, busy, length, need_running=False)
        if i is not None:
            for p in POLLUTANTS:
                s.flags[p][i : i + length] = "M"
                s.conc[p][i : i + length] = np.abs(rng.normal(0, 0.05, length))
            rec = {"mn": mn, "start": ts[i], "end": ts[i + length - 1], "kind": "maintenance",
                   "contractor": "湘运维环保科技", "note": "例行维护 routine maintenance"}
            maint.append(rec)
            ev.append({"detector": "", "kind": "maintenance", "pollutant": None,
                       "start": rec["start"], "end": rec["end"]})
    if rng.random() < 0.3 and "calibration_change" not in kinds:
        days = np.flatnonzero((ts.hour == 0) & (ts.minute == 0))
        if len(days) > 2:
            i = int(days[int(rng.integers(1, len(days)))])
            pol = str(rng.choice(POLLUTANTS))
            new = round(rng.uniform(0.95, 1.05), 3)
            for row in params:
                if row["text"] == _CODES[pol] and row["code"] == "i13008" and row["ts"] >= ts[i]:
                    row["num"] = new
            start = ts[i] - pd.Timedelta(hours=2)
            maint.append({"mn": mn, "start": start, "end": start + pd.Timedelta(minutes=50),
                          "kind": "calibration", "contractor": "湘运维环保科技",
                          "note": f"{pol} 标定 span calibration"})
            ev.append({"detector": "", "kind": "calibration", "pollutant": pol,
                       "start": start, "end": ts[i]})
    if rng.random() < 0.3:
        length = int(rng.integers(180, 360))
        i = _window(rng, s, busy, length)
        if i is not None:
            pol = str(rng.choice(POLLUTANTS))
            lim = prof.limit[pol]
            shape = np.sin(np.linspace(0, np.pi, length)) ** 0.5
            s.conc[pol][i : i + length] = np.maximum(
                s.conc[pol][i : i + length],
                lim * (1 + rng.uniform(0.3, 0.9) * shape) * (1 + rng.normal(0, 0.03, length)))
            ev.append({"detector": "", "kind": "exceedance", "pollutant": pol,
                       "start": ts[i], "end": ts[i + length - 1]})
    return ev


def _params(s: PointSignals, prof: SourceProfile) -> Params:
    """Daily analyser parameters at 00:00 (CN=3020 style rows)."""
    ts = pd.DatetimeIndex(s.ts)
    rows: Params = []
    for t in ts[(ts.hour == 0) & (ts.minute == 0)]:
        for p in POLLUTANTS:
            for code, val in (("i13001", analyser_range(prof, p)), ("i13007", 0.0),
                              ("i13008", 1.0)):
                rows.append({"ts": t, "code": code, "num": val, "text": _CODES[p]})
    return rows


def point_frame(pt: DemoPoint, prof: SourceProfile, s: PointSignals,
                packet_base: int) -> pd.DataFrame:
    """Build the ``flue_minute`` rows of one point (only the columns it sends; others null)."""
    df = pd.DataFrame({"mn": pt.mn, "ts": s.ts, "packet_id": packet_base + np.arange(len(s.ts))})
    o2 = s.o2
    for p in POLLUTANTS:
        c = np.round(s.conc[p], 3)
        df[f"{p}_mg_m3"] = c
        df[f"{p}_flag"] = s.flags[p]
        if prof.ref_o2_pct is not None:
            df[f"{p}_zs"] = _logger_zs(c, o2, prof.ref_o2_pct, s.zs_factor.get(p, 1.0))
    df["o2_pct"] = np.round(o2, 2)
    df["o2_flag"] = s.flags["o2"]
    df["flow_m3_s"] = np.round(s.flow, 2)
    df["flow_flag"] = s.flags["flow"]
    df["temp_c"] = np.round(s.temp, 1)
    df["pressure_kpa"] = np.round(s.pressure, 2)
    df["humidity_pct"] = np.round(s.humidity, 2)
    return df[s.keep]


def _logger_zs(c: np.ndarray, o2: np.ndarray, ref_o2: float, zs_factor=1.0) -> np.ndarray:
    """Return the logger's Zs (3 decimals) of the concentrations ``c``, times a fault factor."""
    factor = (21.0 - ref_o2) / (21.0 - np.minimum(o2, 20.0))
    return np.where(o2 < 19.0, np.round(c * factor * zs_factor, 3), np.nan)


#: Logger Zs rounding step of the demo [mg/m³] (3 decimals, HJ 212-2017's most).
_ZS_STEP = 0.001


def trace_zs_label(label: dict, s: PointSignals, prof: SourceProfile) -> dict:
    """Return a zs_mismatch label with the trace its fault left in the values sent.

    Of the minutes sent in its window with a Zs (``compared``): how many the fault changed
    (``changed``) and how many by more than the detector's per-minute tolerance
    (``beyond_tol``). Evaluation only: no value changes.
    """
    from lantian.engine.quality.process import zs_minute_tolerance
    from lantian.engine.quality.thresholds import load_thresholds

    p = label["pollutant"]
    c = np.round(s.conc[p], 3)
    clean = _logger_zs(c, s.o2, prof.ref_o2_pct)
    sent = _logger_zs(c, s.o2, prof.ref_o2_pct, s.zs_factor.get(p, 1.0))
    ts = pd.DatetimeIndex(s.ts)
    has = s.keep & (ts >= label["start"]) & (ts <= label["end"]) & ~np.isnan(sent)
    diff = np.abs(sent - clean)
    beyond = diff > zs_minute_tolerance(clean, _ZS_STEP, load_thresholds())
    return {**label, "compared": int(has.sum()), "changed": int((has & (diff > 0)).sum()),
            "beyond_tol": int((has & beyond).sum())}


def _to_arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name in df.columns:
            cols.append(pa.array(df[f.name].to_numpy(), type=f.type, from_pandas=True))
        else:
            cols.append(pa.nulls(len(df), type=f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _fault_plan(rng, n_points: int, fault_share: float) -> list[list[str]]:
    """Which fault kinds each point receives (round-robin so every kind appears)."""
    plan: list[list[str]] = [[] for _ in range(n_points)]
    faulty = rng.permutation(n_points)[: round(n_points * fault_share)]
    cycle = list(rng.permutation(FAULT_KINDS))
    k = 0
    for idx in faulty:
        first = cycle[k % len(cycle)]
        k += 1
        plan[idx].append(first)
        if first != "pinned_under_limit" and rng.random() < 0.5:
            second = cycle[k % len(cycle)]
            k += 1
            if second != "pinned_under_limit":
                plan[idx].append(second)
    return plan


def generate(out: str | Path, *, points: int, days: int, start: str = "2026-01-01",
             seed: int = 0, fmt: str = "parquet", fault_share: float = 0.6,
             write_truth: bool = True) -> GenerateSummary:
    """Generate the demo province into ``out`` (see the module docstring for the files).

    Parameters
    ----------
    out
        Output folder (created).
    points
        Number of monitoring points.
    days
        Days of minute data from ``start``.
    start
        First day ``YYYY-MM-DD`` (CST midnight).
    seed
        Random seed (same seed, same data).
    fmt
        ``parquet`` or ``hj212`` (minute packets built by the codec).
    fault_share
        Share of points that receive one or two labelled faults; the rest are clean.
    write_truth
        Write ``events.csv`` (the ground truth).

    """
    if points < 1 or days < 1:
        raise ConfigurationError("--points and --days must be at least 1")
    if fmt not in ("parquet", "hj212"):
        raise ConfigurationError(f"unknown format {fmt!r}: use parquet or hj212")
    writer = _packet_writer() if fmt == "hj212" else None
    out = Path(out)
    (out / ("flue_minute" if fmt == "parquet" else "hj212")).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start).normalize()
    registry = make_registry(rng, points)
    plan = _fault_plan(rng, points, fault_share)
    schema = _schema()
    events: list[dict] = []
    maint: list[dict] = []
    params_rows: list[dict] = []
    rows = faults = 0
    for idx, (pt, prof) in enumerate(registry):
        prof = catalogue_profile(prof, t0.date())
        s = clean_signals(rng, prof, t0, days * 1440)
        busy = np.zeros(len(s.ts), dtype=bool)
        params = _params(s, prof)
        for kind in plan[idx]:
            if kind in _NEEDS_LIMIT and not prof.from_catalogue:
                kind = "constant" if kind != "constant" else "spike"
            label = inject(rng, s, prof, kind, busy, params)
            if label is not None:
                events.append({"mn": pt.mn, **label})
                faults += 1
        events.extend({"mn": pt.mn, **e} for e in _legit_events(rng, s, prof, busy, params,
                                                                  pt.mn, maint, plan[idx]))
        df = point_frame(pt, prof, s, packet_base=(idx + 1) * 10_000_000)
        for k, e in enumerate(events):
            if e["mn"] == pt.mn and e["detector"] == "zs_mismatch":
                events[k] = trace_zs_label(e, s, prof)
        rows += len(df)
        if writer is None:
            pq.write_table(_to_arrow(df, schema), out / "flue_minute" / f"{pt.mn}.parquet")
        else:
            writer(df, pt, out / "hj212" / f"{pt.mn}.txt")
        params_rows.extend({"packet_id": 0, "mn": pt.mn, "cn": "3020", "field": "Info", **r}
                           for r in params)
    _write_side_files(out, registry, params_rows, maint, events if write_truth else None)
    return GenerateSummary(out, points, rows, faults, len(events))


def _write_side_files(out: Path, registry, params_rows, maint, events) -> None:
    par = pd.DataFrame(params_rows, columns=["packet_id", "mn", "cn", "ts", "code", "field",
                                             "num", "text"])
    par["ts"] = pd.to_datetime(par["ts"]).astype("datetime64[us]")
    pq.write_table(pa.Table.from_pandas(par, preserve_index=False), out / "params.parquet")
    (out / "registry.json").write_text(json.dumps(
        {"time_zone": "China Standard Time (UTC+8), wall-clock",
         "points": [pt.as_dict() for pt, _ in registry]}, ensure_ascii=False, indent=1), "utf-8")
    with open(out / "maintenance.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["mn", "start", "end", "kind", "contractor", "note"])
        w.writeheader()
        for r in maint:
            w.writerow({**r, "start": _iso(r["start"]), "end": _iso(r["end"])})
    if events is None:
        return
    with open(out / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["mn", "detector", "kind", "pollutant", "start", "end", "details"])
        w.writeheader()
        for e in events:
            extra = {k: v for k, v in e.items()
                     if k not in ("mn", "detector", "kind", "pollutant", "start", "end")}
            w.writerow({"mn": e["mn"], "detector": e["detector"], "kind": e["kind"],
                        "pollutant": e["pollutant"] or "", "start": _iso(e["start"]),
                        "end": _iso(e["end"]), "details": json.dumps(extra, default=float)})


def _iso(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S")


def _packet_writer():
    """HJ 212 minute-packet writer, through the codec's ``build_packet`` (CN=2051)."""
    try:
        from lantian.hj212 import build_packet  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ConfigurationError(
            "HJ 212 output needs lantian.hj212.build_packet, which this installation lacks; "
            "use --format parquet") from exc

    from lantian.demo.hj212_out import write_point_packets

    return lambda df, pt, path: write_point_packets(build_packet, df, pt, path)

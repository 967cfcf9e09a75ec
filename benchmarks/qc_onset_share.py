"""Does a level_shift alarm's edge jump carry its step? (session 18, a diagnosis only).

For every medium/high ``level_shift`` event of blind seeds 1-84, labelled true / collateral /
false as ``qc_independent.score`` labels them, this computes two things on the log scale
``ln(max(v, 1) + 1)`` of the hourly values:

* the step: the median inside the event less the median of the month's other hours;
* the largest jump of 3-h means in the step's direction within 12 hours of either edge.

``share`` = jump / |step|. An analyser's sudden step moves the 3-h mean by the whole step at
once, so its share is near 1. A process level that arrives in two moves carries about half in
each. It reads the per-seed caches of qcshift18's ``/tmp/shift18/cap.py``: level_shift's exact
inputs and HEAD's events.

Run::

    .venv/bin/python benchmarks/qc_onset_share.py [--cache /tmp/shift18/cache]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qc_independent import _effect, _overlap  # the scorer's own matching

SLACK = pd.Timedelta(hours=1)  # qc_independent.score's default slack


def label(e, truth: pd.DataFrame) -> str:
    """``true`` / ``coll`` / ``false`` for one event, as ``qc_independent.score`` counts it.

    The same matching as the scorer: same point, same pollutant where both have one,
    overlapping within ``SLACK``; collateral against the other detectors' faults as the
    scorer extends them (:func:`qc_independent._effect`), "wide" faults left out.
    """
    st, en = pd.Timestamp(e.start), pd.Timestamp(e.end)
    for t in truth[truth.detector == "level_shift"].itertuples():
        same = not isinstance(t.pollutant, str) or t.pollutant == e.pollutant
        if t.mn == e.mn and same and _overlap(st, en, t.start, t.end, SLACK):
            return "true"
    wide = truth["info"].str.contains("'wide': True")
    other = _effect(truth[(truth.detector != "level_shift") & ~wide])
    if any(t.mn == e.mn and _overlap(st, en, t.start, t.end, SLACK) for t in other.itertuples()):
        return "coll"
    return "false"


def edge_share(lv: np.ndarray, inside: np.ndarray, k: int = 3,
               near: int = 12) -> tuple[float, float]:
    """(step, largest edge jump in the step's direction) of log levels ``lv`` [ln(mg/m³)]."""
    step = float(np.median(lv[inside]) - np.median(lv[~inside]))
    c = np.convolve(lv, np.ones(k) / k, mode="valid")  # c[i] = mean of lv[i:i+k]
    i0 = int(np.argmax(inside))
    i1 = len(inside) - 1 - int(np.argmax(inside[::-1]))
    best = 0.0
    for edge, sign in ((i0, 1.0), (i1 + 1, -1.0)):
        for i in range(max(k, edge - near), min(len(lv) - k, edge + near) + 1):
            best = max(best, sign * np.sign(step) * (c[i] - c[i - k]))
    return step, best


def shares(cache: Path, seeds: range) -> pd.DataFrame:
    """One row per medium/high level_shift event of the cached seeds."""
    rows = []
    for s in seeds:
        path = cache / f"b{s}.pkl"
        if not path.exists():
            continue
        with path.open("rb") as f:
            d = pickle.load(f)
        ev, hl = d["events"], d["hl"]
        ev = ev[(ev.detector == "level_shift") & ev.severity.isin(["medium", "high"])]
        for e in ev.itertuples():
            h = hl[(hl.mn == e.mn) & (hl.pollutant == e.pollutant)].sort_values("ts")
            ts = h.ts.to_numpy()
            inside = (ts >= np.datetime64(pd.Timestamp(e.start))) & \
                (ts <= np.datetime64(pd.Timestamp(e.end)))
            if inside.sum() < 3 or (~inside).sum() < 3:
                continue
            lv = np.log(np.maximum(h.value.to_numpy(), 1.0) + 1.0)
            step, jump = edge_share(lv, inside)
            evid = json.loads(e.evidence)
            rows.append({"seed": s, "mn": e.mn, "pollutant": e.pollutant, "severity": e.severity,
                         "label": label(e, d["truth_all"]), "step": step, "jump": jump,
                         "share": jump / abs(step) if step else np.nan,
                         "hours": evid.get("hours"), "sudden": evid.get("sudden_sigmas")})
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/shift18/cache"))
    args = ap.parse_args()
    r = shares(args.cache, range(1, 85))
    for lab, g in r.groupby("label"):
        q = np.round(g.share.quantile([0, 0.05, 0.1, 0.25, 0.5]).to_numpy(), 2)
        print(lab, len(g), "share quantiles 0/5/10/25/50 %:", q)
    for th in (0.5, 0.55, 0.6, 0.65, 0.7):
        print(f"share < {th}:", {lab: int((g.share < th).sum()) for lab, g in r.groupby("label")})
    print(r[r.label == "false"].sort_values("share").to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

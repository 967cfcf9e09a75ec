"""UCI gas turbine CO/NOx (real stack data): false alarms and recall of spike / level_shift.

Re-run (dataset under ../shared/datasets/uci-gas-turbine-co-nox or $LANTIAN_DATASETS)::

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_qc_uci.py --seeds 1 2 3 4 5

Uses the month cutting, injection and detection of ``tests/test_qc_uci.py`` (30-day
"months" of consecutive hourly rows; spikes ×4–8 for 1–2 h and level shifts ×0.4 / ×2.2 for
2–5 days injected at random places): prints medium/high alarms per 1,000 h on the clean
series and recall per pollutant and detector over the seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lantian.demo.evaluate import score
from test_qc_uci import _detect, _hours, _inject, _load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2024])
    ap.add_argument("--no-screen", action="store_true",
                    help="full rolling windows for every hour (screen=False, session 4)")
    args = ap.parse_args(argv)
    screen = not args.no_screen
    uci = _hours()
    load = _load()  # turbine energy yield: level_shift's load co-movement test
    ev = _detect(uci, load, screen)
    alarms = ev[ev["severity"].isin(["medium", "high"])]
    for p in ("nox", "co"):
        h = int((uci["pollutant"] == p).sum())
        a = alarms[alarms["pollutant"] == p]
        print(f"clean {p}: {h} h, {len(a)} alarms = {1000 * len(a) / h:.2f} per 1,000 h "
              f"({a.groupby('detector').size().to_dict()}); low events "
              f"{int(((ev.pollutant == p) & (ev.severity == 'low')).sum())}")
    tot: dict[tuple[str, str], list[int]] = {}
    for seed in args.seeds:
        dirty, truth = _inject(uci, np.random.default_rng(seed))
        ev = _detect(dirty, load, screen)
        ev = ev[ev["severity"].isin(["medium", "high"])]
        for p in ("nox", "co"):
            s = score(ev[ev["pollutant"] == p], truth[truth["pollutant"] == p],
                      ["spike", "level_shift"])
            for d, x in s.items():
                f = tot.setdefault((p, d), [0, 0])
                f[0] += x.found
                f[1] += x.faults
    rows = [{"pollutant": p, "detector": d, "found": f, "faults": n, "recall": f / n}
            for (p, d), (f, n) in tot.items()]
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    print(f"screen={screen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fsync figures of the file-journal gateway runs of one ``bench_gateway.py`` output directory.

Usage (after a bench_gateway.py run; it prints "raw results in DIR/results.jsonl")::

    python3 benchmarks/gw_fsync_stats.py DIR

Each gateway row of ``results.jsonl`` is matched, in order, to its ``run-*.status.json``
(sorted by modification time); rows of servers without the journal log (gateway-B on the
session-4 path) are skipped. Prints records per fsync, fsyncs per second of load and the
materialiser's figures, one JSON object per run.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(d: Path) -> None:
    """Print one JSON object per file-journal gateway run of the output directory ``d``."""
    res = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines() if x.strip()]
    gw = [r for r in res if r["server"] != "bare"]
    sts = sorted(d.glob("run-*.status.json"), key=lambda p: p.stat().st_mtime)
    for r, p in zip(gw, sts, strict=True):
        st = json.loads(p.read_text())
        if "journal_log_fsyncs" not in st:
            continue
        secs = r.get("seconds")
        f, n = st["journal_log_fsyncs"], st["journal_log_records"]
        print(json.dumps({
            "server": r["server"], "mode": r["mode"], "conns": r["conns"], "fsyncs": f,
            "records": n, "records_per_fsync": round(n / f, 1) if f else None,
            "fsyncs_per_s": round(f / secs, 1) if secs else None, "seconds": secs,
            "max_lag_s": st.get("materialise_max_lag_s"),
            "catch_up_s": st.get("materialise_catch_up_s"),
            "materialise_cpu_s": st.get("materialise_cpu_s"),
            "materialise_runs": st.get("materialise_runs")}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

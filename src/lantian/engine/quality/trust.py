"""Monthly trust score (可信度) of each monitoring point, with one sentence per event.

``trust = max(0, 100 − Σ weight(severity))`` with the weights ``trust.weight_<severity>`` of
``qc_thresholds.csv``. The events are already small (at most a few per point and detector),
so this works on a pandas frame of executed events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from lantian.engine.quality.thresholds import Thresholds, load_thresholds

__all__ = ["explain", "trust_scores"]

_NAMES = {
    "constant": ("数值恒定", "constant value"), "zero": ("零值或负值", "zero or negative values"),
    "over_range": ("超量程", "above analyser range"),
    "pinned_under_limit": ("贴线排放", "pinned just under the limit"),
    "dilution": ("疑似稀释", "suspected dilution"), "false_stop": ("停运标记与工况不符",
                                                                "stop marks contradict operation"),
    "level_shift": ("数据突变", "sudden level shift"), "spike": ("孤立尖峰", "isolated spike"),
    "missing": ("数据缺失", "missing data"), "flag_abuse": ("标记异常", "unusual use of flags"),
    "calibration_change": ("参数无记录变更", "parameter changed without record"),
    "zs_mismatch": ("折算值不符", "converted values disagree"),
}


def explain(event: Mapping[Any, Any], lang: str = "zh") -> str:
    """One sentence on an event (Chinese by default, ``lang='en'`` for English).

    Times are China Standard Time.
    """
    zh, en = _NAMES.get(event["detector"], (event["detector"], event["detector"]))
    ev = event.get("evidence") or {}
    if isinstance(ev, str):
        ev = json.loads(ev)
    pol = event.get("pollutant")
    pol = pol if isinstance(pol, str) else ""
    start = pd.Timestamp(event["start"]).strftime("%Y-%m-%d %H:%M")
    end = pd.Timestamp(event["end"]).strftime("%Y-%m-%d %H:%M")
    nums = ", ".join(f"{k}={v}" for k, v in ev.items())
    if lang == "en":
        return (f"{en}{' of ' + pol if pol else ''} from {start} to {end} (CST), "
                f"severity {event['severity']}: {nums}.")
    sev = {"info": "提示", "low": "低", "medium": "中", "high": "高"}.get(event["severity"], "")
    return f"{start}至{end}(北京时间){pol}{zh},严重程度{sev}:{nums}。"


def trust_scores(events: pd.DataFrame, points: Iterable[str], *,
                 thresholds: Thresholds | None = None, lang: str = "zh") -> pd.DataFrame:
    """Trust per point: columns mn, trust (0–100), events (count), explanations (list).

    ``events`` has detector, mn, pollutant, start, end, severity, evidence; ``points`` lists
    every point judged in the month (points without events score 100).
    """
    th = thresholds or load_thresholds()
    weight = {s: th.get("trust", f"weight_{s}") for s in ("info", "low", "medium", "high")}
    rows = []
    by_mn: dict[str, pd.DataFrame] = (
        {str(mn): g for mn, g in events.groupby("mn")} if len(events) else {})
    for mn in sorted(set(points) | set(by_mn)):
        g = by_mn.get(mn)
        lost = 0.0
        notes = []
        if g is not None:
            for e in g.sort_values("start").to_dict("records"):
                w = weight.get(e["severity"], 0.0)
                lost += w
                notes.append({"detector": e["detector"], "severity": e["severity"],
                              "points": w, "text": explain(e, lang)})
        rows.append({"mn": mn, "trust": max(0.0, 100.0 - lost),
                     "events": 0 if g is None else len(g), "explanations": notes})
    return pd.DataFrame(rows, columns=["mn", "trust", "events", "explanations"])

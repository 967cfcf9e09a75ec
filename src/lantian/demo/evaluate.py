"""Precision and recall of the quality detectors against the demo's ground truth.

An event *matches* a labelled fault when detector and point agree, the pollutants agree (or
either side has none) and the periods overlap, with ``slack`` on both sides (a detector
working on clock hours reports whole hours). Precision per detector = matching events /
events; recall = faults matched by at least one event / faults.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Score", "read_truth", "score"]


@dataclass(frozen=True)
class Score:
    """Precision and recall of one detector."""

    detector: str
    events: int
    true_events: int
    faults: int
    found: int

    @property
    def precision(self) -> float:
        """Share of events that match a labelled fault (1.0 when there are no events)."""
        return self.true_events / self.events if self.events else 1.0

    @property
    def recall(self) -> float:
        """Share of labelled faults found (1.0 when there are none)."""
        return self.found / self.faults if self.faults else 1.0


def read_truth(path) -> pd.DataFrame:
    """Read the labelled faults of ``events.csv`` (rows with a detector)."""
    t = pd.read_csv(path, dtype={"mn": str, "detector": str, "pollutant": str},
                    keep_default_na=False)
    t = t[t["detector"] != ""].copy()
    t["start"] = pd.to_datetime(t["start"])
    t["end"] = pd.to_datetime(t["end"])
    t["pollutant"] = t["pollutant"].replace("", None)
    return t


def _match(ev: pd.Series, tr: pd.Series, slack: pd.Timedelta) -> bool:
    if ev["mn"] != tr["mn"] or ev["detector"] != tr["detector"]:
        return False
    pe, pt = ev.get("pollutant"), tr.get("pollutant")
    if isinstance(pe, str) and isinstance(pt, str) and pe and pt and pe != pt:
        return False
    return ev["start"] <= tr["end"] + slack and tr["start"] <= ev["end"] + slack


def score(events: pd.DataFrame, truth: pd.DataFrame, detectors, *,
          slack: pd.Timedelta | None = None) -> dict[str, Score]:
    """Score every detector in ``detectors`` (events: detector, mn, pollutant, start, end).

    ``slack`` widens both periods when matching (default one hour).
    """
    slack = pd.Timedelta(hours=1) if slack is None else slack
    ev = events.copy()
    ev["start"] = pd.to_datetime(ev["start"])
    ev["end"] = pd.to_datetime(ev["end"])
    out = {}
    for det in detectors:
        e = ev[ev["detector"] == det]
        t = truth[truth["detector"] == det]
        true_ev = sum(any(_match(a, b, slack) for _, b in t.iterrows()) for _, a in e.iterrows())
        found = sum(any(_match(a, b, slack) for _, a in e.iterrows()) for _, b in t.iterrows())
        out[det] = Score(det, len(e), int(true_ev), len(t), int(found))
    return out

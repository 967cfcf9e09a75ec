"""Write demo minute rows as HJ 212-2017 minute packets (CN=2051), one file per point.

Each line is one frame built by the codec (:func:`lantian.hj212.build_packet`): ST=31 (flue
gas), the point's MN and password, ``DataTime`` = minute start (CST) and, per parameter, the
glossary's HJ 212-2017 code with ``Avg``, ``ZsAvg`` (pollutants with a reference O2) and
``Flag``. Missing minutes are simply not written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from lantian.catalog.glossary import glossary

__all__ = ["write_point_packets"]

_KEYS = ("pm", "so2", "nox", "o2", "flow", "temp", "pressure", "humidity")


def write_point_packets(build_packet: Callable[..., bytes], df: pd.DataFrame, pt,
                        path: Path) -> int:
    """Write the rows of one point to ``path``; return the number of packets."""
    entries = {e.key: e for e in glossary() if e.key in _KEYS}
    cols = []
    for key in _KEYS:
        e = entries[key]
        value = e.column
        cols.append((e.code_2017, value, f"{key}_zs" if f"{key}_zs" in df.columns else None,
                     f"{key}_flag" if f"{key}_flag" in df.columns else None))
    n = 0
    with open(path, "wb") as fh:
        for row in df.itertuples(index=False):
            r = row._asdict()
            stamp = pd.Timestamp(r["ts"]).strftime("%Y%m%d%H%M%S")
            values: dict[str, dict[str, object]] = {}
            for code, vcol, zcol, fcol in cols:
                v = r.get(vcol)
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                item: dict[str, object] = {"Avg": float(v)}
                z = r.get(zcol) if zcol else None
                if z is not None and not (isinstance(z, float) and math.isnan(z)):
                    item["ZsAvg"] = float(z)
                f = r.get(fcol) if fcol else None
                if isinstance(f, str):
                    item["Flag"] = f
                values[code] = item
            fh.write(build_packet(st="31", cn="2051", pw=pt.password, mn=pt.mn,
                                  qn=stamp + "000", data_time=stamp, values=values))
            n += 1
    return n

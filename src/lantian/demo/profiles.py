"""Behaviour of each source type in the demo province, as data (``demo/data/profiles.csv``).

A profile gives the operating pattern (``continuous`` kiln, ``grid``-following power boiler,
``daytime`` boiler, ``foundry`` furnace with Sundays off), the usual flue-gas state (O2 [%],
flow [m3/s], temperature [°C]), the typical running concentrations [mg/m3] and the limits the
demo designs its faults around. The limits are design values for generating synthetic data
only; compliance always takes limits from the limit catalogue.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lantian.errors import CatalogError

__all__ = ["POLLUTANTS", "SourceProfile", "profiles"]

POLLUTANTS: tuple[str, ...] = ("pm", "so2", "nox")


@dataclass(frozen=True)
class SourceProfile:
    """Typical behaviour of one source type (units in the field names of profiles.csv)."""

    source_type: str
    name_zh: str
    name_en: str
    pattern: str
    weight: float
    ref_o2_pct: float | None
    o2_pct: float
    o2_sd: float
    flow_m3_s: float
    temp_c: float
    typical: dict[str, float]
    limit: dict[str, float]
    limit_source: str
    from_catalogue: bool = False


@lru_cache(maxsize=1)
def profiles() -> dict[str, SourceProfile]:
    """All source profiles keyed by source type."""
    text = resources.files("lantian.demo").joinpath("data/profiles.csv").read_text("utf-8")
    out: dict[str, SourceProfile] = {}
    for i, r in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            out[r["source_type"]] = SourceProfile(
                source_type=r["source_type"],
                name_zh=r["name_zh"],
                name_en=r["name_en"],
                pattern=r["pattern"],
                weight=float(r["weight"]),
                ref_o2_pct=float(r["ref_o2_pct"]) if r["ref_o2_pct"] else None,
                o2_pct=float(r["o2_pct"]),
                o2_sd=float(r["o2_sd"]),
                flow_m3_s=float(r["flow_m3_s"]),
                temp_c=float(r["temp_c"]),
                typical={p: float(r[p]) for p in POLLUTANTS},
                limit={p: float(r[f"{p}_limit"]) for p in POLLUTANTS},
                limit_source=r["limit_source"],
            )
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"demo profiles.csv row {i}: {exc}") from exc
    return out

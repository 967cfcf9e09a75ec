"""Registry of the demo province: enterprises with Chinese names, districts, outlets, points."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lantian.demo.profiles import POLLUTANTS, SourceProfile, profiles

__all__ = ["DemoPoint", "make_registry"]

_DISTRICTS = (
    ("430102", "芙蓉区"), ("430104", "岳麓区"), ("430211", "天元区"), ("430302", "雨湖区"),
    ("430421", "衡阳县"), ("430521", "邵东市"), ("430602", "岳阳楼区"), ("430702", "武陵区"),
)
_WORDS = ("湘江", "岳麓", "洞庭", "衡山", "雪峰", "资江", "沅水", "潇湘", "韶峰", "金霞",
          "南岳", "昭山", "桃源", "九嶷", "白沙", "梅溪")
_SECTOR = {
    "cement_kiln": ("cement", "水泥有限公司"), "coke_oven_stack": ("coking", "焦化有限公司"),
    "sinter_head": ("steel", "钢铁集团有限公司"), "coal_power_boiler": ("power", "发电有限公司"),
    "gas_boiler": ("boiler", "热力有限公司"), "coal_boiler": ("boiler", "热电有限公司"),
    "foundry_furnace": ("foundry", "铸造有限公司"),
}
_CODES = {"pm": "a34013", "so2": "a21026", "nox": "a21002"}


@dataclass(frozen=True)
class DemoPoint:
    """One monitoring point of the demo province."""

    mn: str
    password: str
    enterprise: str
    credit_code: str
    sector: str
    district_code: str
    district_name: str
    outlet: str
    source_type: str
    ref_o2_pct: float | None
    parameters: tuple[str, ...]

    def as_dict(self) -> dict:
        """JSON-ready form (registry file)."""
        d = asdict(self)
        d["parameters"] = list(self.parameters)
        d["pollutant_codes"] = {p: _CODES[p] for p in POLLUTANTS}
        return d


def make_registry(rng: np.random.Generator, n_points: int) -> list[tuple[DemoPoint, SourceProfile]]:
    """``n_points`` points spread over enterprises of the seven source types."""
    profs = list(profiles().values())
    weights = np.array([p.weight for p in profs])
    out: list[tuple[DemoPoint, SourceProfile]] = []
    ent_no = 0
    while len(out) < n_points:
        prof = profs[int(rng.choice(len(profs), p=weights / weights.sum()))]
        sector, suffix = _SECTOR[prof.source_type]
        code, dname = _DISTRICTS[int(rng.integers(len(_DISTRICTS)))]
        ent_no += 1
        name = f"{_WORDS[ent_no % len(_WORDS)]}{dname[:2]}{suffix}{ent_no:04d}"[:40]
        credit = f"9143{code[2:6]}MA{ent_no:08d}X"
        for k in range(int(rng.integers(1, 4))):
            if len(out) >= n_points:
                break
            idx = len(out) + 1
            mn = f"LT{code}{idx:08d}{k:02d}".ljust(24, "0")[:24]
            out.append((DemoPoint(
                mn=mn, password=f"{int(rng.integers(100000, 999999))}", enterprise=name,
                credit_code=credit, sector=sector, district_code=code, district_name=dname,
                outlet=f"{prof.name_zh}{k + 1}号排口", source_type=prof.source_type,
                ref_o2_pct=prof.ref_o2_pct,
                parameters=(*POLLUTANTS, "o2", "flow", "temp", "pressure", "humidity"),
            ), prof))
    return out

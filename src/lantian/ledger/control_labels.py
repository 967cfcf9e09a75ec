"""Display names (中文, English) of production-control and alert codes.

The ledgers store codes (``rest_weekday``, ``orange``, ``stop``, ``flow+power``); pages and
reports show these names. Chinese is the default, English with ``lang="en"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CODE_LABELS", "code_label", "compliance_text", "evidence_text", "translate_rows"]

CODE_LABELS: dict[str, tuple[str, str]] = {
    # agreement rules (错峰生产协议)
    "max_hours_per_day": ("单日运行超时", "over the daily hours"),
    "rest_weekday": ("停产日生产", "ran on a rest weekday"),
    "rest_days_per_month": ("月停产天数不足", "too few rest days in the month"),
    "halt_window": ("停产期内生产", "ran in a halt window"),
    # alert levels (预警级别, 环大气〔2024〕6号)
    "yellow": ("黄色预警", "yellow"), "orange": ("橙色预警", "orange"), "red": ("红色预警", "red"),
    # measures by performance grade (绩效分级措施)
    "self_reduce": ("自主减排", "reduce on own initiative"), "reduce": ("限产", "reduce output"),
    "stop": ("停产", "stop"),
    # operating evidence
    "flow": ("烟气流量", "flue-gas flow"),
    "status": ("设施运行状态(SBxxx-RS)", "equipment run state (SBxxx-RS)"),
    "power": ("用电量", "power use"),
    # compliance with an alert measure (alert_compliance)
    "complied": ("落实", "complied"), "breached": ("未落实", "breached"),
    "not_judged": ("不作判定", "not judged"),
    # grades and where they come from
    "leading": ("引领性", "leading"),
    "history": ("登记变更记录", "registry history"), "current": ("当前登记", "current registry"),
}
"""Code → (中文, English)."""


def code_label(code: Any, lang: str = "zh") -> str:
    """Return the name of a code in ``lang`` (``zh``/``en``); unknown codes as they are."""
    if code is None:
        return ""
    pair = CODE_LABELS.get(str(code))
    return str(code) if pair is None else pair[1 if lang == "en" else 0]


def evidence_text(evidence: Any, lang: str = "zh") -> str:
    """``flow+power`` → ``烟气流量、用电量`` (``flue-gas flow, power use`` in English)."""
    if not evidence:
        return ""
    sep = ", " if lang == "en" else "、"
    return sep.join(code_label(k, lang) for k in str(evidence).split("+"))


def compliance_text(complied: bool | None, lang: str = "zh") -> str:
    """``complied``/``breached``/``not judged`` (落实/未落实/不作判定) of a compliance flag."""
    key = "not_judged" if complied is None else ("complied" if complied else "breached")
    return code_label(key, lang)


def translate_rows(rows: list[dict[str, Any]], lang: str = "zh",
                   keys: tuple[str, ...] = ("rule", "level", "action", "grade_basis")
                   ) -> list[dict[str, Any]]:
    """Return copies of ``rows`` with the codes of ``keys`` and ``evidence`` named in ``lang``.

    ``detail_zh`` replaces ``detail`` in Chinese.
    """
    out = []
    for r in rows:
        d = dict(r)
        for k in keys:
            if k in d:
                d[k] = code_label(d[k], lang)
        if "evidence" in d:
            d["evidence"] = evidence_text(d["evidence"], lang)
        if lang != "en" and d.get("detail_zh"):
            d["detail"] = d["detail_zh"]
        if "grade" in d and d["grade"] == "leading":
            d["grade"] = code_label("leading", lang)
        out.append(d)
    return out

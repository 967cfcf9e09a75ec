"""Ledger pages (台账页面): retrofits, marks, transport, production & alerts, emissions & carbon.

Server-rendered like the workbench pages (:mod:`lantian.api.routers.pages`): Chinese by
default, ``?lang=en`` for English, every table read through the same scoped functions as
the ledger API routes, with CSV/Excel links to those routes. Times are China Standard Time.

:data:`router` also carries the ledger API routers (retrofits, marks, transport,
production); the marks API router (:mod:`lantian.api.routers.marks`) is included by the app
itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from lantian.api.auth import Principal, Role
from lantian.api.deps import Db, OptionalUser
from lantian.api.export import cell
from lantian.api.params import Month, cst_now, this_month
from lantian.api.problems import Problem
from lantian.api.routers import marks, production, retrofits, transport
from lantian.api.routers.ledger_scope import run_ledger
from lantian.api.routers.pages import _lang, _render, _to_login

__all__ = ["LABELS", "router"]

router = APIRouter()
router.include_router(retrofits.router)
router.include_router(transport.router)
router.include_router(production.router)
pages = APIRouter(include_in_schema=False)
PAGE_TRIPS = 200
"""Non-compliant road trips listed on the transport page (all in the download)."""

LABELS: dict[str, tuple[str, str]] = {
    "ledgers": ("台账", "Ledgers"),
    "retrofits": ("改造计划", "Retrofits"),
    "marks": ("企业标记", "Enterprise marks"),
    "transport": ("清洁运输", "Clean transport"),
    "production": ("错峰生产与重污染预警", "Production control & alerts"),
    "emissions": ("排放量与碳排放", "Emissions & carbon"),
    "plan": ("计划", "Plan"), "programme": ("改造任务", "Programme"),
    "line": ("生产线/设施", "Line / facility"), "milestone": ("节点", "Milestone"),
    "due": ("应完成日期", "Due"), "done_on": ("完成日期", "Done on"),
    "state": ("状态", "State"), "must_stop": ("须停产", "Must stop"),
    "done": ("按期完成", "done"), "done_late": ("逾期完成", "done late"),
    "overdue": ("已逾期", "overdue"), "at_risk": ("临期预警", "at risk"),
    "pending": ("待完成", "pending"), "target_date": ("目标日期", "Target date"),
    "target_count": ("目标数量", "Target"), "status": ("状态", "Status"),
    "met": ("已完成", "met"), "missed": ("未完成", "missed"), "on_track": ("按计划", "on track"),
    "district_progress": ("分区县进度", "Progress by district"),
    "plans": ("计划数", "Plans"), "overdue_n": ("逾期数", "Overdue"),
    "today": ("基准日", "Reference day"), "kind": ("类型", "Kind"),
    "start": ("开始", "Start"), "end": ("结束", "End"), "reason": ("原因", "Reason"),
    "entered_by": ("填报人", "Entered by"), "review": ("审核", "Review"),
    "accepted": ("已通过", "accepted"), "rejected": ("已驳回", "rejected"),
    "accept": ("通过", "Accept"), "reject": ("驳回", "Reject"), "note": ("审核意见", "Note"),
    "add_mark": ("填报标记", "Enter a mark"), "submit": ("提交", "Submit"),
    "stopped": ("停运", "stopped"), "starting": ("启炉", "starting"),
    "shutting_down": ("停炉", "shutting down"), "faulty": ("故障", "faulty"),
    "maintenance": ("维护", "maintenance"),
    "clean_ratio": ("清洁运输比例", "Clean-transport share"),
    "road_t": ("公路运输量 [t]", "Road [t]"), "clean_t": ("清洁方式运输量 [t]", "Clean modes [t]"),
    "nc_trips": ("不合规公路运输车次", "Non-compliant road trips"),
    "pass": ("达标", "pass"), "fail": ("不达标", "fail"),
    "nc_road": ("不合规公路运输记录", "Non-compliant road trips"),
    "plate": ("车牌", "Plate"), "time": ("时间", "Time"), "direction": ("进出", "Direction"),
    "material": ("物料", "Material"), "tonnes": ("吨数 [t]", "Tonnes [t]"),
    "stage": ("排放阶段", "Emission stage"), "fuel": ("燃料", "Fuel"),
    "fleet": ("厂内车辆与非道路移动机械", "In-plant vehicles and non-road machinery"),
    "category": ("类别", "Category"), "ident": ("编号", "Ident"), "findings": ("问题", "Findings"),
    "violations": ("错峰生产违规", "Production-control violations"),
    "rule": ("规则", "Rule"), "period": ("时段", "Period"),
    "running_hours": ("运行小时数 [h]", "Running hours [h]"), "evidence": ("证据", "Evidence"),
    "alert_actions": ("预警期间应采取措施", "Measures required during alerts"),
    "alert_violations": ("预警期间应停未停", "Lines running when they had to stop"),
    "alert_reduction": ("预警期间减排效果", "Reduction achieved during alerts"),
    "level": ("预警级别", "Level"), "grade": ("绩效分级", "Grade"), "action": ("措施", "Action"),
    "pollutant": ("污染物", "Pollutant"), "reduction_pct": ("削减比例 [%]", "Reduction [%]"),
    "target_pct": ("目标 [%]", "Target [%]"),
    "grades": ("A级资格与降级预警", "A-grade eligibility and downgrade warnings"),
    "eligible": ("符合A级", "Eligible for A"), "downgrade": ("降级预警", "Downgrade warning"),
    "reasons": ("原因", "Reasons"), "detail": ("说明", "Detail"),
    "source": ("依据", "Source"), "grade_at_start": ("预警开始时绩效分级", "Grade at alert start"),
    "grade_basis": ("分级依据", "Grade from"), "alert": ("预警", "Alert"),
    "complied": ("落实情况", "Complied"),
    "baseline_kg_h": ("预警前均值 [kg/h]", "Before [kg/h]"),
    "alert_kg_h": ("预警期间均值 [kg/h]", "During [kg/h]"),
    "all_periods": ("全部时段", "all periods"),
    "month_hint": ("留空则显示全部时段", "leave empty for all periods"),
    "actions_note": ("措施按预警开始时的绩效分级（环办大气函〔2020〕340号，alert_measures.csv）："
                     "A级、引领性企业自主减排；应停产的生产线在预警期间有运行小时即列入下表。",
                     "Measures by the grade in force at the alert's start "
                     "(环办大气函〔2020〕340号, alert_measures.csv): A and leading reduce "
                     "on their own initiative; a line that must stop and ran during the "
                     "alert is listed in the next table."),
    "reduction_note": ("削减比例 = 1 − 预警期间小时平均排放量 / 预警前 7 日小时平均排放量；"
                       "目标：黄色/橙色/红色预警 10/20/30 %（环大气〔2024〕6号）。"
                       "无小时排放量（flue_hour -Cou）时不计算。",
                       "Reduction = 1 − mean hourly load during the alert / mean hourly load "
                       "of the 7 days before; targets yellow/orange/red 10/20/30 % "
                       "(环大气〔2024〕6号). Not computed without hourly loads (flue_hour -Cou)."),
    "evidence_note": ("运行证据：烟气流量高于停运阈值、设施运行状态 SBxxx-RS 为运行、"
                      "用电量高于待机功率；任一证据显示运行即计为运行小时。",
                      "Running evidence: flue-gas flow above the stop threshold, equipment "
                      "run state SBxxx-RS running, power use above idle; any one makes a "
                      "running hour."),
    "cst_note": ("时间均为中国标准时间(北京时间)，小时指 [整点, 整点+1 h)。",
                 "Times are China Standard Time; an hour is [hh:00, hh:00 + 1 h)."),
    "loads": ("月度排放量", "Monthly loads"), "load_t": ("排放量 [t]", "Load [t]"),
    "flagged_hours": ("标记/替代小时数", "Flagged/substituted hours"),
    "measured_t": ("实测排放量 [t]", "Measured [t]"),
    "substituted_t": ("替代排放量 [t]", "Substituted [t]"),
    "substituted_hours": ("替代小时数 [h]", "Substituted hours [h]"),
    "loads_note": ("排放量 = 实测排放量 + 替代排放量。HJ 75-2017 的数据替代只用于负荷/排放量"
                   "（颗粒物、SO2、NOx 无效生产小时的排放量），从不替代浓度；替代排放量为空的"
                   "月份由数采仪 -Cou 累计，未经 lantian assess --loads 计算。",
                   "Load = measured + substituted. HJ 75-2017 substitution applies to loads "
                   "only (the load of invalid production hours for PM, SO2, NOx), never to "
                   "concentrations; months with an empty substituted load are the logger's "
                   "-Cou sums, not computed by lantian assess --loads."),
    "yoy": ("同比变化与减排目标", "Year-on-year change vs target"),
    "last_t": ("上年 [t]", "Last year [t]"), "this_t": ("本年 [t]", "This year [t]"),
    "change_pct": ("变化 [%]", "Change [%]"),
    "intensity": ("碳排放与能耗强度", "CO2 and energy intensity"),
    "metric": ("指标", "Metric"), "value": ("数值", "Value"), "norm": ("限额", "Norm"),
    "over": ("超限", "Over"), "offsets": ("倍量削减台账", "Offsets ledger (double offsets)"),
    "project": ("项目", "Project"), "required_t": ("应削减 [t/a]", "Required [t/a]"),
    "credited_t": ("已核定 [t/a]", "Credited [t/a]"), "gap_t": ("缺口 [t/a]", "Gap [t/a]"),
    "covered": ("已满足", "Covered"),
    "credit": ("改造减排量", "Reduction credited to retrofits"),
    "before_t": ("改造前月均 [t]", "Before [t/month]"),
    "after_t": ("改造后月均 [t]", "After [t/month]"),
    "credit_t_a": ("减排量 [t/a]", "Credit [t/a]"),
    "year": ("年份", "Year"), "month": ("月份", "Month"),
    "enterprise": ("企业", "Enterprise"), "outlet": ("排放口", "Outlet"),
    "no_rows": ("暂无数据", "No rows"), "download": ("下载", "Download"),
    "yes": ("是", "yes"), "no": ("否", "no"), "show": ("查看", "Show"),
    "cst": ("中国标准时间", "China Standard Time"), "warning": ("提示", "Warning"),
}
"""Page labels (中文, English)."""


def _labels(request: Request) -> Any:
    idx = 1 if _lang(request) == "en" else 0

    def label(key: Any) -> str:
        pair = LABELS.get(str(key))
        return pair[idx] if pair else str(key)

    return label


def _page(request: Request, name: str, user: Principal, **ctx: Any) -> Response:
    return _render(request, name, user, L=_labels(request), **ctx)


def _cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: cell(v) for k, v in r.items()} for r in rows]


@pages.get("/ledgers/retrofits")
def retrofits_page(request: Request, db: Db, user: OptionalUser,
                   today: retrofits.Today = None) -> Response:
    """Plans with their milestones as a timeline, overdue/at-risk highlighted; district chart."""
    if user is None:
        return _to_login(request)
    day = today or cst_now().date()
    rows, warn = retrofits.plans_in_scope(db, user, day)
    plans: dict[int, dict[str, Any]] = {}
    for r in _cells(rows):
        p = plans.setdefault(r["plan_id"], {**r, "milestones": [], "worst": "done"})
        p["milestones"].append(r)
        p["must_stop"] = p["must_stop"] or r["must_stop"]
        for s in ("overdue", "at_risk"):
            if r["state"] == s and p["worst"] != "overdue":
                p["worst"] = s
    from lantian.ledger.retrofit_progress import programme_progress

    progress = (_cells(run_ledger(db, lambda cur: programme_progress(cur, day))[0])
                if user.role in (Role.admin, Role.regulator) else [])
    dist = _cells(retrofits.district_progress(db, user, day))
    chart = {"lang": _lang(request), "districts": [
        f"{d['district_code']} {d['programme']}" for d in dist],
        "plans": [d["plans"] for d in dist], "done": [d["done"] for d in dist],
        "overdue": [d["overdue"] for d in dist]}
    return _page(request, "ledger_retrofits.html", user, today=day.isoformat(),
                 plans=list(plans.values()), progress=progress, districts=dist, warnings=warn,
                 chart_json=json.dumps(chart, ensure_ascii=False).replace("</", "<\\/"))


@pages.get("/ledgers/marks")
def marks_page(request: Request, db: Db, user: OptionalUser,
               status: Annotated[Literal["pending", "accepted", "rejected"] | None,
                                 Query()] = None,
               error: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    """List marks; add form for enterprise and O&M accounts; accept/reject for regulators."""
    if user is None:
        return _to_login(request)
    from lantian.api import queries as q

    rows = _cells(marks.marks_in_scope(db, user, status).rows)
    can_add = user.role in (Role.enterprise, Role.maintainer, Role.admin)
    outlets = q.outlets(db, user).rows if can_add else []
    return _page(request, "marks.html", user, rows=rows, mark_status=status or "", outlets=outlets,
                 can_add=can_add,
                 can_review=user.role in (Role.regulator, Role.admin), error=error)


def _back(path: str, error: str | None = None) -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(path + (f"?error={quote(error[:300])}" if error else ""),
                            status_code=303)


@pages.post("/ledgers/marks")
def marks_add_form(request: Request, db: Db, user: OptionalUser,
                   outlet_id: Annotated[int, Form(ge=1, le=2**62)],
                   kind: Annotated[Literal["stopped", "starting", "shutting_down", "faulty",
                                           "maintenance"], Form()],
                   start: Annotated[dt.datetime, Form()], end: Annotated[dt.datetime, Form()],
                   reason: Annotated[str, Form(min_length=1, max_length=500)]) -> Response:
    """Enter a mark from the form (same rules as ``POST /api/marks``)."""
    if user is None:
        return _to_login(request)
    try:
        marks.add_mark(marks.NewMark(outlet_id=outlet_id, kind=kind, start=start, end=end,
                                     reason=reason), db, user)
    except Problem as exc:
        return _back("/ledgers/marks", exc.detail)
    return _back("/ledgers/marks")


@pages.post("/ledgers/marks/review")
def marks_review_form(request: Request, db: Db, user: OptionalUser,
                      id: Annotated[int, Form(ge=1, le=2**62)],
                      decision: Annotated[Literal["accepted", "rejected"], Form()],
                      note: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Accept or reject from the form (same rules as ``POST /api/marks/review``)."""
    if user is None:
        return _to_login(request)
    try:
        marks.review(id, marks.MarkDecision(decision=decision, note=note), db, user)
    except Problem as exc:
        return _back("/ledgers/marks", exc.detail)
    return _back("/ledgers/marks")


@pages.get("/ledgers/transport")
def transport_page(request: Request, db: Db, user: OptionalUser,
                   month: Month = None) -> Response:
    """Clean-transport share per enterprise with pass/fail; non-compliant road trips; fleet."""
    if user is None:
        return _to_login(request)
    m = this_month(month)
    rows = _cells(transport.clean_transport_in_scope(db, user, m))
    fleet = _cells(transport.fleet_in_scope(db, user, cst_now().date()))
    bad = transport.gate_records_in_scope(db, user, m, non_compliant=True, limit=PAGE_TRIPS)
    return _page(request, "transport.html", user, month=m, rows=rows,
                 trips=_cells(bad.rows), trips_total=bad.total,
                 fleet=[f for f in fleet if not f["compliant"]], fleet_total=len(fleet))


@pages.get("/ledgers/production")
def production_page(request: Request, db: Db, user: OptionalUser,
                    month: Month = None) -> Response:
    """Agreement violations, alert measures, alert violations and reductions, grades.

    With ``month`` every table is limited to that month (CST); without it the production
    and alert tables show all periods and the grades the current month. Enterprises and lines
    by name; rules, levels, measures and evidence named in the page language.
    """
    if user is None:
        return _to_login(request)
    from lantian.ledger.control_labels import compliance_text, translate_rows

    m = this_month(month)
    lang = _lang(request)

    def shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Floats to 0.01, times as ``YYYY-MM-DD HH:MM`` (CST), codes named."""
        out = []
        for r in _cells(rows):
            d: dict[str, Any] = {k: round(v, 2) if isinstance(v, float) else v
                                 for k, v in r.items()}
            for k in ("first_ts", "last_ts", "start_ts", "end_ts"):
                if isinstance(d.get(k), str):
                    d[k] = d[k].replace("T", " ")[:16]
            if "complied" in d:
                d["complied"] = compliance_text(d["complied"], lang)
            out.append(d)
        return translate_rows(out, lang)

    return _page(request, "alerts.html", user, month=m, month_given=month is not None,
                 violations=shown(production.violations_in_scope(db, user, month)),
                 actions=shown(production.alert_actions_in_scope(db, user, month)),
                 alert_violations=shown(production.alert_violations_in_scope(db, user, month)),
                 reduction=shown(production.alert_reduction_in_scope(db, user, 7, month)),
                 grades=_cells(production.grades_in_scope(db, user, m)))


@pages.get("/ledgers/emissions")
def emissions_page(request: Request, db: Db, user: OptionalUser,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    """Year-on-year vs targets, monthly loads, retrofit credits, intensity, offsets."""
    if user is None:
        return _to_login(request)
    y = year or cst_now().year
    return _page(request, "ledger_emissions.html", user, year=y,
                 loads=_cells(production.loads_in_scope(db, user, "enterprise_id", "month")),
                 yoy=_cells(production.yoy_in_scope(db, user, y, "enterprise_id")),
                 intensity=_cells(production.intensity_in_scope(db, user)),
                 credit=_cells(production.retrofit_credit_in_scope(db, user)),
                 offsets=_cells(production.offsets_in_scope(db, user)))


router.include_router(pages)

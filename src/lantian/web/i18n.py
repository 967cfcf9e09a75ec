"""Page texts: Chinese by default, English with ``?lang=en`` (remembered in a cookie)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LANGS", "TEXTS", "translator"]

LANGS = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app": ("蓝天 · 固定污染源监管平台", "Lantian · stationary-source supervision"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "overview": ("总览", "Overview"),
    "quality": ("数据质量", "Data quality"),
    "live": ("实时联网", "Live"),
    "enterprise": ("企业", "Enterprise"),
    "enterprises": ("企业", "Enterprises"),
    "outlet": ("排放口", "Outlet"),
    "outlets": ("排放口", "Outlets"),
    "month": ("月份", "Month"),
    "district": ("行政区划代码", "District code"),
    "sector": ("行业", "Sector"),
    "filter": ("筛选", "Filter"),
    "credit_code": ("统一社会信用代码", "Credit code"),
    "grade": ("绩效分级", "Performance grade"),
    "verdict": ("超低排放月度评估", "Monthly ULE verdict"),
    "pass": ("达标", "pass"),
    "fail": ("不达标", "fail"),
    "not_assessed": ("未评估", "not assessed"),
    "compliance_ratio": ("小时达标率", "Compliant-hour ratio"),
    "trust": ("可信度评分", "Trust score"),
    "alerts": ("质量告警", "Quality alerts"),
    "summary": ("本月已评估 {assessed} 家，达标 {passed} 家",
                "{assessed} assessed this month, {passed} passed"),
    "download": ("下载", "Download"),
    "time_note": ("时间均为中国标准时间（UTC+8）", "All times are China Standard Time (UTC+8)"),
    "verdicts_12": ("近12个月超低排放评估", "ULE verdicts, last 12 months"),
    "source_type": ("源类型", "Source type"),
    "points": ("监测点位", "Monitoring points"),
    "limit": ("限值", "Limit"),
    "measured": ("实测值", "Measured"),
    "corrected": ("折算值", "Corrected (ref. O2)"),
    "invalid": ("无效/异常时段", "Invalid / flagged periods"),
    "exceedances": ("超标", "Exceedances"),
    "events": ("质量事件", "Quality events"),
    "o2_flow": ("氧含量与流量", "O2 and flow"),
    "hourly": ("小时数据", "Hourly data"),
    "minute": ("分钟数据", "Minute data"),
    "no_data": ("暂无数据", "No data"),
    "by_detector": ("按检测规则", "By detector"),
    "ranking": ("可信度排名", "Trust ranking"),
    "contractor": ("运维单位视图", "O&M contractor view"),
    "detector": ("检测规则", "Detector"),
    "severity": ("严重程度", "Severity"),
    "evidence": ("证据", "Evidence"),
    "start": ("开始", "Start"),
    "end": ("结束", "End"),
    "pollutant": ("污染物", "Pollutant"),
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "last_packet": ("最后数据包", "Last packet"),
    "packets_24h": ("24小时数据包", "Packets (24 h)"),
    "rejected": ("拒收报文", "Rejected traffic"),
    "reason": ("原因", "Reason"),
    "peer": ("来源地址", "Peer"),
    "status": ("状态", "Status"),
    "not_found": ("未找到，或不在您的权限范围内", "Not found, or outside your scope"),
    "count": ("数量", "Count"),
    "maintainer": ("运维账号", "Maintainer account"),
    "mean_trust": ("平均可信度", "Mean trust"),
    "chart_note": ("阴影为无效或带标记时段；红点为超标；虚线为限值。",
                   "Shaded: invalid or flagged periods; red dots: exceedances; "
                   "dashed line: limit."),
    "online_rule": ("{m} 分钟内收到有效数据包视为在线",
                    "Online = an accepted packet within {m} minutes"),
}


def translator(lang: str) -> Callable[..., str]:
    """Return ``t(key, **fmt)`` for ``lang`` (``zh`` or ``en``); unknown keys echo the key."""
    idx = 1 if lang == "en" else 0

    def t(key: str, **fmt: object) -> str:
        pair = TEXTS.get(key)
        text = pair[idx] if pair else key
        return text.format(**fmt) if fmt else text

    return t

"""Production hours (生产时段): whether the source ran in a clock hour.

HJ 212 flag ``F`` means the *instrument* stopped, not the plant. An hour is a **stop hour**
(not a production hour) only with evidence that the source stopped:

1. most of its minutes carry ``F`` (more than ``stop_f_majority_pct`` = 50 % of the minutes
   present, ``assessment_rules.csv``) **and** the mean of its flow readings — F-flagged
   readings included — is below the outlet's ``stop_flow_threshold`` (same unit as the
   logger sends ``a00000``), or, where no threshold is registered, below
   ``default_stop_flow_share_pct`` (5 %) of the point's median running flow that month
   (median of the hourly raw flow over the hours that are not F hours); or
2. an *accepted* enterprise mark (标记, MEE Announcement 2022 No. 21) of kind ``stopped``,
   ``starting``, ``shutting_down`` or ``faulty`` overlaps the hour; or
3. most ``i12001`` working-state readings of the hour carry a value listed as stop evidence
   in ``production_status.csv`` (HJ 212-2017 Table B.10; e.g. 9 standby).

F without such evidence leaves a production hour with invalid data (it counts against the
ULE ratio). Hours are ``[ts, ts + 1 h)`` in China Standard Time.
"""

from __future__ import annotations

import ibis

from lantian.catalog.rules import rule, stop_status_values

__all__ = ["STOP_MARK_KINDS", "marked_hours", "production_hours", "status_stop_hours"]

#: Enterprise mark kinds that make an hour a non-production hour (``maintenance`` concerns
#: the instrument and does not).
STOP_MARK_KINDS: tuple[str, ...] = ("stopped", "starting", "shutting_down", "faulty")


def marked_hours(hours: ibis.Table, marks: ibis.Table, points: ibis.Table) -> ibis.Table:
    """(mn, ts) of hours overlapped by an accepted stop/start/shutdown/fault mark.

    ``marks`` has ``mn`` or ``outlet_id`` (a mark on an outlet covers all its points),
    ``kind``, ``start_ts``, ``end_ts`` [CST], ``status``; ``points`` has ``mn``, ``outlet_id``.
    """
    m = marks.filter(marks.status == "accepted", marks.kind.isin(STOP_MARK_KINDS))
    po = points.select(p_mn="mn", p_outlet="outlet_id")
    mo = m.left_join(po, m.outlet_id == po.p_outlet)
    allm = (
        mo.select(mn=ibis.coalesce(mo.mn, mo.p_mn), start_ts=mo.start_ts, end_ts=mo.end_ts)
        .distinct()
        .view()
    )
    h = hours.select("mn", "ts")
    hit = h.join(
        allm,
        [
            h.mn == allm.mn,
            allm.start_ts < h.ts + ibis.interval(hours=1),
            allm.end_ts > h.ts,
        ],
    )
    return hit.select(mn=h.mn, ts=h.ts).distinct().mutate(marked=ibis.literal(True))


def status_stop_hours(status: ibis.Table) -> ibis.Table:
    """(mn, ts) of hours where most ``i12001`` readings say the source is stopped."""
    stop_values = [float(v) for v in stop_status_values("i12001")]
    s = status.filter(status.code == "i12001").mutate(hour=status.ts.truncate("h"))
    agg = s.group_by(mn=s.mn, ts=s.hour).aggregate(
        n=s.count(), n_stop=s.num.isin(stop_values).cast("int64").sum()
    )
    return (
        agg.filter(agg.n_stop * 2 > agg.n).select("mn", "ts").mutate(status_stop=ibis.literal(True))
    )


def production_hours(
    hours: ibis.Table,
    points: ibis.Table,
    marks: ibis.Table,
    status: ibis.Table,
) -> ibis.Table:
    """Add ``production`` (bool), ``stop_reason`` and ``stop_threshold`` to the hours.

    Parameters
    ----------
    hours
        Output of :func:`lantian.engine.hours.valid_hours` (or ``complete_month``).
    points
        ``mn``, ``outlet_id``, ``stop_flow_threshold`` [logger flow unit] (null = default
        rule).
    marks
        Enterprise marks (see :func:`marked_hours`).
    status
        ``mn``, ``ts``, ``code``, ``num`` HJ 212 working-state readings.

    Returns
    -------
    ibis.Table
        ``hours`` plus ``production``, ``stop_reason`` (``flow`` / ``mark`` / ``status`` or
        null) and ``stop_threshold`` [logger flow unit].

    """
    share = rule("default_stop_flow_share_pct")
    f_major = rule("stop_f_majority_pct")
    f_hour = (hours.minutes > 0) & (hours.f_minutes * 100 > hours.minutes * f_major)
    h = hours.mutate(f_hour=f_hour)
    running = h.filter(~h.f_hour & h.flow_raw.notnull())
    med = running.group_by("mn").aggregate(median_flow=running.flow_raw.median())
    pts = points.select("mn", "stop_flow_threshold")
    h = h.left_join(med, "mn").drop("mn_right").view()
    h = h.left_join(pts, "mn").drop("mn_right").view()
    h = (
        h.mutate(stop_threshold=h.stop_flow_threshold.fill_null(h.median_flow * (share / 100.0)))
        .drop("stop_flow_threshold", "median_flow")
        .view()
    )
    h = (
        h.left_join(marked_hours(hours, marks, points), ["mn", "ts"])
        .drop("mn_right", "ts_right")
        .view()
    )
    h = h.left_join(status_stop_hours(status), ["mn", "ts"]).drop("mn_right", "ts_right").view()
    stop_flow = (h.f_hour & (h.flow_raw < h.stop_threshold)).fill_null(False)
    marked = h.marked.fill_null(False)
    st = h.status_stop.fill_null(False)
    reason = ibis.cases(
        (marked, "mark"),
        (stop_flow, "flow"),
        (st, "status"),
        else_=ibis.null("string"),
    )
    return h.mutate(production=~(stop_flow | marked | st), stop_reason=reason).drop(
        "marked", "status_stop", "f_hour"
    )

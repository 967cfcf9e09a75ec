"""Talk-back decisions: history requests (补传), clock setting, offline detection.

Pure functions over a per-logger state; the gateway turns the returned actions into
packets. All times are China Standard Time wall-clock (naive ``datetime``).

References
----------
HJ 212-2017 §6.7 (first connection: calibrate time, set intervals), Table 1 (timeouts),
Appendix C (1012 set time; 2051/2061 fetch with BeginTime/EndTime; 1013 → 9013).

"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "HistoryRequest",
    "LoggerState",
    "SetTime",
    "TalkbackSettings",
    "is_offline",
    "observe",
    "offline_cutoff",
]


@dataclass(frozen=True)
class TalkbackSettings:
    """Thresholds, from ``catalog/data/gateway.toml`` ``[talkback]`` [s]."""

    clock_drift_s: float = 120.0
    clock_set_min_interval_s: float = 600.0
    minute_interval_s: float = 60.0
    hour_interval_s: float = 3600.0
    history_request_min_interval_s: float = 60.0
    max_history_span_s: float = 86400.0
    rtd_interval_s: float = 30.0
    offline_factor: float = 10.0


@dataclass(frozen=True)
class SetTime:
    """Send 1012 (set device time) because ``drift_s`` = DataTime − platform clock [s]."""

    drift_s: float


@dataclass(frozen=True)
class HistoryRequest:
    """Send a 2051 / 2061 fetch for ``begin``..``end`` (inclusive period starts, CST)."""

    cn: str
    begin: dt.datetime
    end: dt.datetime
    reason: str


@dataclass
class LoggerState:
    """What the gateway remembers of one data logger between packets."""

    mn: str
    last_seen: dt.datetime | None = None
    last_minute: dt.datetime | None = None
    last_hour: dt.datetime | None = None
    last_clock_set: dt.datetime | None = None
    last_history_request: dict[str, dt.datetime] = field(default_factory=dict)
    offline: bool = False


def _gap(
    state: LoggerState,
    cn: str,
    last: dt.datetime | None,
    ts: dt.datetime,
    period_s: float,
    now: dt.datetime,
    s: TalkbackSettings,
) -> HistoryRequest | None:
    if last is None or ts <= last:
        return None
    step = dt.timedelta(seconds=period_s)
    if ts - last <= step:
        return None
    prev = state.last_history_request.get(cn)
    if prev is not None and (now - prev).total_seconds() < s.history_request_min_interval_s:
        return None
    begin = max(last + step, ts - step - dt.timedelta(seconds=s.max_history_span_s))
    state.last_history_request[cn] = now
    reason = "minute_gap" if cn == "2051" else "hour_gap"
    return HistoryRequest(cn, begin, ts - step, reason)


def observe(
    state: LoggerState,
    cn: str,
    data_time: dt.datetime | None,
    now: dt.datetime,
    settings: TalkbackSettings,
) -> list[SetTime | HistoryRequest]:
    """Update ``state`` with one accepted packet and return the requests to send.

    Parameters
    ----------
    state : LoggerState
        Per-logger state, updated in place.
    cn : str
        Command code of the packet (2011 real-time, 2051 minute, 2061 hour).
    data_time : datetime or None
        Its ``DataTime`` (CST), the period start for 2051/2061.
    now : datetime
        Platform clock (CST).
    settings : TalkbackSettings
        Thresholds [s].

    A minute (hour) DataTime more than one period after the last one seen means the periods
    between are missing: ask for them (HJ 212-2017 Appendix C, 2051/2061 fetch). Real-time
    DataTime more than ``clock_drift_s`` away from the platform clock: set the clock (1012).
    Re-sent history (DataTime before the last one) moves nothing back.

    """
    actions: list[SetTime | HistoryRequest] = []
    state.last_seen = now
    state.offline = False
    if data_time is None:
        return actions
    if cn == "2011":
        drift = (data_time - now).total_seconds()
        recent = state.last_clock_set is not None and (
            (now - state.last_clock_set).total_seconds() < settings.clock_set_min_interval_s
        )
        if abs(drift) > settings.clock_drift_s and not recent:
            state.last_clock_set = now
            actions.append(SetTime(drift))
    elif cn == "2051":
        req = _gap(state, cn, state.last_minute, data_time, settings.minute_interval_s, now,
                   settings)
        if req:
            actions.append(req)
        if state.last_minute is None or data_time > state.last_minute:
            state.last_minute = data_time
    elif cn == "2061":
        req = _gap(state, cn, state.last_hour, data_time, settings.hour_interval_s, now,
                   settings)
        if req:
            actions.append(req)
        if state.last_hour is None or data_time > state.last_hour:
            state.last_hour = data_time
    return actions


def offline_cutoff(now: dt.datetime, settings: TalkbackSettings) -> dt.datetime:
    """Last-seen time (CST) before which a logger is offline at ``now``.

    ``now − rtd_interval_s × offline_factor`` seconds: a logger last seen strictly before it
    has been silent longer than its real-time interval allows. One subtraction per sweep, so
    the sweeper compares each logger's ``last_seen`` with it (no per-logger arithmetic).
    """
    return now - dt.timedelta(seconds=settings.rtd_interval_s * settings.offline_factor)


def is_offline(state: LoggerState, now: dt.datetime, settings: TalkbackSettings) -> bool:
    """Whether the logger has been silent longer than its real-time interval allows.

    Silent for more than ``rtd_interval_s × offline_factor`` seconds → offline.
    """
    return state.last_seen is not None and state.last_seen < offline_cutoff(now, settings)

"""The gateway's talk-back: requests the platform sends to loggers, and their log.

After a packet is durably stored (:mod:`lantian.hj212.gwwriter`), :func:`talkback.observe`
decides whether to ask for missing history (补传, CN 2051/2061 fetch, HJ 212-2017
Appendix C) or to set the logger's clock (CN 1012) when its real-time ``DataTime`` drifts.
Requests are written on the logger's connection and logged in ``gateway_command`` with the
next side flush (never one row at a time). Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import TYPE_CHECKING, Any

from lantian.hj212 import gwcodec
from lantian.hj212.talkback import HistoryRequest, LoggerState, SetTime, observe

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lantian.hj212.gwconn import Connection

__all__ = ["TalkbackMixin"]

log = logging.getLogger("lantian.gateway")

_GW = Any  # the Gateway this is mixed into (methods use its attributes)

_FMT = "%Y%m%d%H%M%S"
_RF_ONE = frozenset({"1", 1})  # RF=1: re-sent history (HJ 212-2017 Appendix C)


@functools.lru_cache(maxsize=4096)
def _data_time(text: str) -> dt.datetime | None:
    """``DataTime`` text → datetime (CST), None when unreadable.

    Cached: the loggers of a site send the same few DataTimes (the current minute, hour),
    so most packets skip the parse.
    """
    try:
        return gwcodec.data_time_to_datetime(text)
    except (ValueError, gwcodec.PacketError):
        return None


class TalkbackMixin:
    """Talk-back of :class:`lantian.hj212.gateway.Gateway` (mixed in)."""

    def _talkback(self: _GW, pairs: Iterable[tuple[Connection, Any]], now: dt.datetime
                  ) -> None:
        """Talk back to the loggers of a committed batch: ``(connection, packet)`` in order.

        One call per batch (session 11; was one per packet): the logger table, the
        thresholds and the back-online list are looked up once, and ``RF`` is read without
        a default dict per packet. :func:`~lantian.hj212.talkback.observe` decides for each
        packet exactly as before.
        """
        loggers, back, tb = self.loggers, self._back_online, self.settings.talkback
        for conn, pkt in pairs:
            mn = pkt.mn
            state = loggers.get(mn)
            if state is None:
                state = loggers[mn] = LoggerState(mn)
            if state.offline:
                back.append(mn)
            text = pkt.data_time
            ts = _data_time(text) if text else None
            params = getattr(pkt, "params", None)
            if (params and params.get("RF") == "1") or getattr(pkt, "rf", None) in _RF_ONE:
                ts = None  # re-sent history never opens a gap
            actions = observe(state, pkt.cn or "", ts, now, tb)
            if actions:  # rare: a clock to set or periods to fetch
                self._act(conn, pkt, mn, actions)

    def _act(self: _GW, conn: Connection, pkt: Any, mn: str,
             actions: list[SetTime | HistoryRequest]) -> None:
        """Send the requests :func:`~lantian.hj212.talkback.observe` asked for."""
        point = self.registry.get(mn)
        pw = point.password if point else (pkt.pw or "")
        for action in actions:
            if isinstance(action, SetTime):
                log.info("MN %s clock off by %.0f s: sending 1012", mn, action.drift_s)
                self._send_set_time(conn, mn, pw, "clock_drift", pkt.version)
            elif isinstance(action, HistoryRequest):
                self._send_history(conn, mn, pw, action, pkt.version)

    def _send_set_time(self: _GW, conn: Connection, mn: str, pw: str, reason: str,
                       version: str) -> None:
        now = gwcodec.now_cst()
        raw = bytes(gwcodec.build_request("1012", mn=mn, pw=pw,
                                          params={"SystemTime": now.strftime(_FMT)},
                                          version=version or "2017", now=now))
        conn.write(raw)
        self.status.counts["sent_1012"] += 1
        self._log_command({"sent_at": now, "mn": mn, "cn": "1012", "reason": reason, "raw": raw})

    def _send_history(self: _GW, conn: Connection, mn: str, pw: str, req: HistoryRequest,
                      version: str) -> None:
        now = gwcodec.now_cst()
        params = {"BeginTime": req.begin.strftime(_FMT), "EndTime": req.end.strftime(_FMT)}
        raw = bytes(gwcodec.build_request(req.cn, mn=mn, pw=pw, params=params,
                                          version=version or "2017", now=now))
        conn.write(raw)
        self.status.counts[f"sent_{req.cn}"] += 1
        log.info("MN %s missing %s..%s: sent %s history request", mn, req.begin, req.end, req.cn)
        self._log_command({"sent_at": now, "mn": mn, "cn": req.cn, "reason": req.reason,
                           "begin_time": req.begin, "end_time": req.end, "raw": raw})

    def _log_command(self: _GW, row: dict[str, Any]) -> None:
        self._commands.append(row)  # written with the next commit or sweep, never one by one

    async def _flush_side(self: _GW) -> None:
        pending = self._commands or self._rejected or self._went_offline or self._back_online
        if pending and self._store is not None:
            commands, rejected = list(self._commands), list(self._rejected)
            went, back = list(self._went_offline), list(self._back_online)
            for buf in (self._commands, self._rejected, self._went_offline, self._back_online):
                buf.clear()
            try:
                await self._run_db(self._store.flush_side, commands, rejected, went, back,
                                   gwcodec.now_cst())
            except Exception as exc:  # side logs never stop the gateway
                log.error("could not write %d commands / %d rejected rows: %s",
                          len(commands), len(rejected), exc)

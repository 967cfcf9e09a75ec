"""The HJ 212 gateway: an asyncio TCP server in front of the store.

One connection is one data logger. Bytes are framed by the codec's ``Framer`` (resync on
``##``, bounded), parsed leniently, authenticated against a cached copy of the registry
(MN + PW), and handed to one writer task that group-commits batches on the database thread
and only then sends the 9014 data replies (same QN) for packets with the A bit
(HJ 212-2017 §6.6, Appendix C). Unknown MN or wrong password: never acknowledged (there is
no negative reply to uploads, and a 9014 would make the logger drop its buffer), logged and
counted; the connection is closed after repeated failures. Times are China Standard Time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lantian.errors import ConfigurationError
from lantian.hj212 import gwbatch, gwcodec
from lantian.hj212.gwconn import Connection as _Conn
from lantian.hj212.gwconn import GatewayStatus, raise_nofile_limit
from lantian.hj212.gwsettings import GatewaySettings, load_settings
from lantian.hj212.gwstore import GatewayStore, Incoming
from lantian.hj212.reassembly import Reassembler
from lantian.hj212.talkback import HistoryRequest, LoggerState, SetTime, is_offline, observe
from lantian.ledger.registry import AuthVerdict, MonitoringPoint, authenticate
from lantian.store.traffic import free_bytes

__all__ = ["Gateway", "GatewayStatus", "raise_nofile_limit"]

log = logging.getLogger("lantian.gateway")

UPLOAD_CNS = frozenset({"2011", "2021", "2031", "2041", "2051", "2061", "2081", "3015",
                        "3019", "3020"})
"""Device→platform uploads answered with 9014 when the A bit is set (2017 Appendix C)."""

_UPLOAD_B = frozenset(cn.encode() for cn in UPLOAD_CNS)

_FMT = "%Y%m%d%H%M%S"


class Gateway:
    """HJ 212 gateway over one database.

    Parameters
    ----------
    db_path : DuckDB file (created and migrated if missing)
    settings : tunables; the packaged ``gateway.toml`` when None
    forward_to : ``host:port`` of an upstream platform to relay accepted packets to, or None

    """

    def __init__(self, db_path: str | Path, settings: GatewaySettings | None = None,
                 forward_to: str | None = None) -> None:
        self.db_path = Path(db_path)
        self.settings = settings or load_settings()
        if forward_to is not None:
            from lantian.hj212.forward import parse_target

            try:
                parse_target(forward_to)
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
        self.forward_to = forward_to
        self.status = GatewayStatus()
        self.conns: set[_Conn] = set()
        self.by_mn: dict[str, _Conn] = {}
        self.loggers: dict[str, LoggerState] = {}
        self.registry: dict[str, MonitoringPoint] = {}
        self._queue: list[tuple[_Conn, Incoming, Any]] = []  # (conn, item, part to answer)
        self._raw: list[tuple[_Conn, bytes, dt.datetime]] = []  # plain uploads, not decoded
        self._reassembler = Reassembler()
        self._wake = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-db")
        self._store: GatewayStore | None = None
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_refresh = 0.0
        self._registry_fp: tuple[int, int] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._went_offline: list[tuple[str, str]] = []  # (MN, detail), written by the sweeper
        self._back_online: list[str] = []
        self._commands: list[dict[str, Any]] = []
        self._rejected: list[tuple[str, bytes, str, str | None]] = []
        self._stopping = False

    # -- life cycle -------------------------------------------------------------------
    async def _run_db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def open(self) -> None:
        """Open the database and load the registry and talk-back state (no listening yet).

        ``lantian serve`` builds the HTTP app between :meth:`open` and :meth:`start`, so that
        nothing slow runs on the event loop once loggers can connect.
        """
        if self._store is not None:
            return
        raise_nofile_limit()
        self._store = await self._run_db(GatewayStore, self.db_path)
        await self._run_db(gwbatch.warm_up)
        await self.refresh_registry()
        for mn, (minute, hour) in (await self._run_db(self._store.last_period_times)).items():
            self.loggers[mn] = LoggerState(mn, last_minute=minute, last_hour=hour)

    async def start(self, host: str = "127.0.0.1", port: int = 9212) -> int:
        """Open the database (unless :meth:`open` did), listen; return the bound port."""
        await self.open()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Conn(self), host, port, backlog=4096)
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._sweeper())]
        if self.forward_to:
            from lantian.hj212.forward import forward_loop

            self._tasks.append(asyncio.create_task(forward_loop(self)))
        bound = int(self._server.sockets[0].getsockname()[1])
        log.info("gateway listening on %s:%d (db %s)", host, bound, self.db_path)
        return bound

    async def stop(self) -> None:
        """Stop listening, commit what is queued, close connections and the database."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        self._wake.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._queue or self._raw:
            await self._commit_batch()
        await self._flush_side()
        for c in list(self.conns):
            c.close()
        if self._store is not None:
            await self._run_db(self._store.close)
        self._db.shutdown(wait=True)
        log.info("gateway stopped: %s", self.status.as_dict())

    @property
    def connection(self) -> Any:
        """The gateway's DuckDB connection (share it through ``.cursor()`` only)."""
        if self._store is None:
            raise RuntimeError("gateway not started")
        return self._store.con

    async def refresh_registry(self) -> None:
        """Reload the registry snapshot from the database when it has changed."""
        assert self._store is not None
        self._last_refresh = time.monotonic()
        fp = await self._run_db(self._store.registry_fingerprint)
        if fp != self._registry_fp:
            self.registry = await self._run_db(self._store.load_registry)
            self._registry_fp = fp

    # -- packets ----------------------------------------------------------------------
    def on_frame(self, conn: _Conn, frame: bytes) -> None:
        """Handle one complete frame from ``conn`` (runs on the event loop).

        A frame that looks like a plain upload is only queued (the writer decodes the queue
        in one pass, :mod:`lantian.hj212.gwbatch`); anything else is parsed here.
        """
        self.status.counts["frames"] += 1
        if conn.auth_closed:
            return
        if self.status.accepting and gwbatch.looks_like_upload(frame, _UPLOAD_B):
            self._raw.append((conn, frame, gwcodec.now_cst()))
            conn.add_pending(1)
            if len(self._raw) == 1 or len(self._raw) >= self.settings.batch_max:
                self._wake.set()
            return
        self._on_packet(conn, frame)

    def _on_packet(self, conn: _Conn, frame: bytes) -> None:
        """Parse, authenticate and dispatch one frame (the per-packet path)."""
        counts = self.status.counts
        try:
            pkt = gwcodec.parse_packet(frame, strict=False)
        except gwcodec.PacketError as exc:
            counts["bad_packets"] += 1
            log.debug("bad packet from %s: %s", conn.peer, exc)
            return
        if not pkt.crc_ok:
            counts["bad_crc"] += 1  # no reply: the logger retransmits after its timeout
            return
        verdict = authenticate(self.registry, pkt.mn, pkt.pw)
        if verdict is not AuthVerdict.ok:
            self._reject(conn, frame, pkt, verdict.value)
            return
        mn = pkt.mn or ""
        version = pkt.version or "2017"
        point = self.registry[mn]
        if getattr(pkt, "encrypted", False) and point.sm4_key:
            try:  # HJ 212-2025 SM4 data area: decode again with this logger's key
                pkt = gwcodec.parse_packet(frame, strict=False,
                                           sm4_key=bytes.fromhex(point.sm4_key))
            except gwcodec.PacketError:
                counts["bad_packets"] += 1
                return
        conn.auth_failures = 0
        if conn.mn != mn:
            conn.mn = mn
            self.by_mn[mn] = conn
        cn = pkt.cn or ""
        if cn in UPLOAD_CNS:
            if not self.status.accepting:
                counts["not_acknowledged_disk"] += 1
                return
            inc = self._incoming(pkt, frame, conn.peer)
            self._queue.append((conn, inc, pkt))
            conn.add_pending(1)
            if len(self._queue) == 1 or len(self._queue) >= self.settings.batch_max:
                self._wake.set()
        elif cn == "1013":  # time calibration request: 9013 then 1012 set time
            conn.write(self._reply(pkt, "9013"))
            self._send_set_time(conn, mn, point.password, "time_request", version)
        elif cn == "9015":  # 2025 heartbeat (reference/hj212.md §13, unverified)
            self._touch(mn)
            if pkt.needs_reply:
                conn.write(self._reply(pkt, "9014"))
        elif cn in {"9011", "9012", "9013", "9014"}:
            self._touch(mn)
            counts[f"reply_{cn}"] += 1
        else:
            counts["unhandled_cn"] += 1
            if pkt.needs_reply:
                conn.write(self._reply(pkt, "9013"))

    def _incoming(self, pkt: Any, frame: bytes, peer: str) -> Incoming:
        """Item for the commit; split messages (PNUM/PNO) are joined before their values.

        Each part is journalled and answered on its own (HJ 212-2017 Appendix C.50: the
        logger waits for each 9014); parts before the last are journalled as held, and the
        part completing the message carries the joined values (codec ``Reassembler``).
        """
        now = gwcodec.now_cst()
        if not (pkt.pnum and pkt.pno):
            return Incoming(pkt, frame, peer, now)
        whole = self._reassembler.add(pkt)
        if whole is None:
            return Incoming(pkt, frame, peer, now,
                            held=f"split part {pkt.pno}/{pkt.pnum} held for reassembly")
        return Incoming(whole, frame, peer, now)

    def _reply(self, pkt: Any, cn: str) -> bytes:
        now = gwcodec.now_cst()
        if cn == "9014":
            return bytes(gwcodec.build_data_reply(pkt, now=now))
        return bytes(gwcodec.build_request(cn, st="91", mn=pkt.mn or "", pw=pkt.pw or "",
                                           qn=pkt.qn, version=pkt.version or "2017", now=now))

    def _touch(self, mn: str) -> None:
        st = self.loggers.setdefault(mn, LoggerState(mn))
        st.last_seen = gwcodec.now_cst()

    def _reject(self, conn: _Conn, frame: bytes, pkt: Any, reason: str) -> None:
        self.status.counts[f"rejected_{reason}"] += 1
        conn.auth_failures += 1
        if len(self._rejected) < self.settings.batch_max * 10:
            self._rejected.append((conn.peer, frame, reason, pkt.mn))
        else:  # a flood: keep counting, stop logging rows until the next flush
            self.status.counts["rejected_not_logged"] += 1
        if reason == "unknown_mn" and time.monotonic() - self._last_refresh > 1.0:
            self._last_refresh = time.monotonic()  # registry may have changed: reload soon
            task = asyncio.get_running_loop().create_task(self.refresh_registry())
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)
        if conn.auth_failures >= self.settings.auth_fail_limit:
            self.status.counts["closed_auth"] += 1
            conn.auth_closed = True
            log.warning("closing %s after %d rejected packets (%s)", conn.peer,
                        conn.auth_failures, reason)
            conn.close()

    # -- writer -----------------------------------------------------------------------
    async def _writer(self) -> None:
        """Group-commit what is queued, adaptively.

        ``batch_wait_s`` is waited only when the writer was idle; under load the next batch
        is whatever arrived while the previous commit ran.
        """
        busy = False
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not (self._queue or self._raw):
                busy = False
                continue
            waiting = len(self._queue) + len(self._raw)
            if not busy and waiting < self.settings.batch_max and self.settings.batch_wait_s > 0:
                await asyncio.sleep(self.settings.batch_wait_s)
            try:
                await self._commit_batch()
            except Exception:  # never let the writer die: log, and go on with the next batch
                log.exception("writer: unexpected error after a commit")
                self.status.counts["writer_errors"] += 1
            busy = bool(self._queue or self._raw)
            if busy:
                self._wake.set()

    async def _commit_batch(self) -> None:
        if self._raw:
            await self._commit_raw()
        if self._queue:
            await self._commit_items()

    async def _commit_raw(self) -> None:
        """Decode the queued raw uploads together, authenticate, store as columns, reply."""
        assert self._store is not None
        raw = self._raw[: self.settings.batch_max]
        del self._raw[: len(raw)]
        d = gwbatch.decode_batch([f for _, f, _ in raw], strict=False)
        ok, crc_ok = d.ok.tolist(), d.crc_ok.tolist()
        cns, pnums, pnos = d.columns["cn"], d.columns["pnum"], d.columns["pno"]
        rows: list[int] = []
        heads: list[tuple[_Conn, gwbatch.Head]] = []
        for i, (conn, frame, _) in enumerate(raw):
            conn.add_pending(-1)
            if conn.auth_closed:
                continue
            if not (ok[i] and crc_ok[i]) or cns[i] not in UPLOAD_CNS or pnums[i] is not None \
                    or pnos[i] is not None:
                self._on_packet(conn, frame)  # unusual: the per-packet path decides
                continue
            head = gwbatch.head_of(d, i)
            verdict = authenticate(self.registry, head.mn, head.pw)
            if verdict is not AuthVerdict.ok:
                self._reject(conn, frame, head, verdict.value)
                continue
            mn = head.mn or ""
            if self.registry[mn].sm4_key:
                self._on_packet(conn, frame)  # may carry an SM4 data area: per packet
                continue
            conn.auth_failures = 0
            if conn.mn != mn:
                conn.mn = mn
                self.by_mn[mn] = conn
            if not self.status.accepting:
                self.status.counts["not_acknowledged_disk"] += 1
                continue
            conn.add_pending(1)
            rows.append(i)
            heads.append((conn, head))
        if not rows:
            return
        batch = gwbatch.column_batch(d, rows, [raw[i][1] for i in rows],
                                     [raw[i][0].peer for i in rows], [raw[i][2] for i in rows])
        try:
            verdicts = await self._run_db(self._store.store_batch, batch, self.forward_to)
        except Exception as exc:  # the store failed: acknowledge nothing, say why
            log.error("commit of %d packets failed, none acknowledged: %s", len(rows), exc)
            self.status.counts["commit_failures"] += 1
            for conn, _ in heads:
                conn.add_pending(-1)
            return
        self.status.counts["batches"] += 1
        now = gwcodec.now_cst()
        for (conn, head), verdict in zip(heads, verdicts, strict=True):
            conn.add_pending(-1)
            self.status.counts[verdict] += 1
            if verdict not in {"accepted", "duplicate"}:
                continue
            if head.needs_reply:
                conn.write(self._reply(head, "9014"))
                self.status.counts["acked"] += 1
            self._talkback(conn, head, now)

    async def _commit_items(self) -> None:
        assert self._store is not None
        batch = self._queue[: self.settings.batch_max]
        del self._queue[: len(batch)]
        try:
            verdicts = await self._run_db(self._store.store_batch, [i for _, i, _ in batch],
                                          self.forward_to)
        except Exception as exc:  # the store failed: acknowledge nothing, say why
            log.error("commit of %d packets failed, none acknowledged: %s", len(batch), exc)
            self.status.counts["commit_failures"] += 1
            for conn, _, _ in batch:
                conn.add_pending(-1)
            return
        self.status.counts["batches"] += 1
        now = gwcodec.now_cst()
        for (conn, inc, part), verdict in zip(batch, verdicts, strict=True):
            conn.add_pending(-1)
            self.status.counts[verdict] += 1
            if verdict not in {"accepted", "duplicate", "held"}:
                continue
            if part.needs_reply:  # each part of a split message is answered with its own QN
                conn.write(self._reply(part, "9014"))
                self.status.counts["acked"] += 1
            if verdict != "held":
                self._talkback(conn, inc.packet, now)

    # -- talk-back --------------------------------------------------------------------
    def _talkback(self, conn: _Conn, pkt: Any, now: dt.datetime) -> None:
        mn = pkt.mn
        state = self.loggers.get(mn)
        if state is None:
            state = self.loggers[mn] = LoggerState(mn)
        if state.offline:
            self._back_online.append(mn)
        try:
            ts = gwcodec.data_time_to_datetime(pkt.data_time) if pkt.data_time else None
        except (ValueError, gwcodec.PacketError):
            ts = None
        if getattr(pkt, "params", {}).get("RF") == "1" or getattr(pkt, "rf", None) in {"1", 1}:
            ts_for_gaps = None  # re-sent history never opens a gap
        else:
            ts_for_gaps = ts
        point = self.registry.get(mn)
        pw = point.password if point else (pkt.pw or "")
        for action in observe(state, pkt.cn or "", ts_for_gaps, now, self.settings.talkback):
            if isinstance(action, SetTime):
                log.info("MN %s clock off by %.0f s: sending 1012", mn, action.drift_s)
                self._send_set_time(conn, mn, pw, "clock_drift", pkt.version)
            elif isinstance(action, HistoryRequest):
                self._send_history(conn, mn, pw, action, pkt.version)

    def _send_set_time(self, conn: _Conn, mn: str, pw: str, reason: str, version: str) -> None:
        now = gwcodec.now_cst()
        raw = bytes(gwcodec.build_request("1012", mn=mn, pw=pw,
                                          params={"SystemTime": now.strftime(_FMT)},
                                          version=version or "2017", now=now))
        conn.write(raw)
        self.status.counts["sent_1012"] += 1
        self._log_command({"sent_at": now, "mn": mn, "cn": "1012", "reason": reason, "raw": raw})

    def _send_history(self, conn: _Conn, mn: str, pw: str, req: HistoryRequest,
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

    def _log_command(self, row: dict[str, Any]) -> None:
        self._commands.append(row)  # written with the next commit or sweep, never one by one

    async def _flush_side(self) -> None:
        pending = self._commands or self._rejected or self._went_offline or self._back_online
        if pending and self._store is not None:
            commands, rejected = self._commands, self._rejected
            went, back = self._went_offline, self._back_online
            self._commands, self._rejected = [], []
            self._went_offline, self._back_online = [], []
            try:
                await self._run_db(self._store.flush_side, commands, rejected, went, back,
                                   gwcodec.now_cst())
            except Exception as exc:  # side logs never stop the gateway
                log.error("could not write %d commands / %d rejected rows: %s",
                          len(commands), len(rejected), exc)

    # -- housekeeping -----------------------------------------------------------------
    async def _sweeper(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.sweep_interval_s)
            mono = time.monotonic()
            for c in list(self.conns):
                if mono - c.last_rx > s.idle_timeout_s:
                    self.status.counts["closed_idle"] += 1
                    c.close()
            now = gwcodec.now_cst()
            for st in self.loggers.values():
                if not st.offline and is_offline(st, now, s.talkback):
                    st.offline = True
                    silent = (now - st.last_seen).total_seconds() if st.last_seen else 0
                    log.warning("MN %s offline: silent for %.0f s", st.mn, silent)
                    self.status.counts["offline_alerts"] += 1
                    self._went_offline.append((st.mn, f"silent {silent:.0f} s"))
            await self._check_disk(now)
            await self._flush_side()
            if mono - self._last_refresh > s.registry_refresh_s:
                await self.refresh_registry()

    async def _check_disk(self, now: dt.datetime) -> None:
        free = free_bytes(self.db_path)
        ok = free >= self.settings.min_free_bytes
        if ok == self.status.accepting:
            return
        self.status.accepting = ok
        assert self._store is not None
        if not ok:
            self.status.reason = (f"disk nearly full: {free} bytes free < "
                                  f"{self.settings.min_free_bytes}; not acknowledging")
            log.error("%s", self.status.reason)
            await self._run_db(self._store.raise_alert, None, "disk_full", self.status.reason, now)
        else:
            self.status.reason = ""
            log.warning("disk space back: acknowledging again")
            await self._run_db(self._store.clear_alert, None, "disk_full", now)

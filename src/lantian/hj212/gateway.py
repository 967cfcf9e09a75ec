"""The HJ 212 gateway: an asyncio TCP server in front of the store.

One connection is one data logger. Bytes are framed by the codec's ``Framer`` (resync on
``##``, bounded), parsed leniently, authenticated against a cached copy of the registry
(MN + PW), and handed to one writer task that group-commits batches on the database thread
(:mod:`lantian.hj212.gwwriter`) and only then sends the 9014 data replies (same QN) for
packets with the A bit (HJ 212-2017 §6.6, Appendix C). Journal-first (``[materialise]`` in
``gateway.toml``): the acknowledging commit holds the journal and the de-duplication keys;
the value rows follow within ``interval_s`` (:mod:`lantian.store.materialise`), and after a
restart the un-materialised tail of the journal is decoded again and written before any
logger is served. Unknown MN or wrong
password: never acknowledged (there is no negative reply to uploads, and a 9014 would make
the logger drop its buffer), logged and counted; the connection is closed after repeated
failures. Times are China Standard Time.
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

from lantian.errors import ConfigurationError, StoreError
from lantian.hj212 import gwbatch, gwcodec
from lantian.hj212.gwconn import Connection as _Conn
from lantian.hj212.gwconn import (
    GatewayStatus,
    ReceiveBuffer,
    name_os_thread,
    raise_nofile_limit,
)
from lantian.hj212.gwsettings import GatewaySettings, load_settings
from lantian.hj212.gwstore import GatewayStore, Incoming
from lantian.hj212.gwtalk import TalkbackMixin
from lantian.hj212.gwwriter import CommitJob, WriterMixin
from lantian.hj212.reassembly import Reassembler
from lantian.hj212.talkback import LoggerState, offline_cutoff
from lantian.ledger.registry import AuthVerdict, MonitoringPoint, authenticate
from lantian.store.traffic import free_bytes

__all__ = ["Gateway", "GatewayStatus", "raise_nofile_limit"]

log = logging.getLogger("lantian.gateway")

UPLOAD_CNS = frozenset({"2011", "2021", "2031", "2041", "2051", "2061", "2081", "3015",
                        "3019", "3020"})
"""Device→platform uploads answered with 9014 when the A bit is set (2017 Appendix C)."""

_UPLOAD_B = frozenset(cn.encode() for cn in UPLOAD_CNS)

SWEEP_SLICE = 1000
"""Connections or logger states the sweeper checks before letting the event loop run."""


def _materialiser_thread(nice: int) -> None:
    """Name the materialiser's OS thread and lower its priority by ``nice`` (Linux).

    ``[materialise] nice`` in ``gateway.toml``: under overload the acknowledgements (event
    loop, log writer) go first and DuckDB catches up after the burst. Only this thread is
    niced (``setpriority`` on its thread id); DuckDB's own worker threads, started by the
    database thread, keep the process's priority.
    """
    import os
    import threading

    name_os_thread()
    if nice > 0 and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           os.getpriority(os.PRIO_PROCESS, 0) + nice)
        except OSError as exc:  # not fatal: the materialiser runs at the loop's priority
            log.warning("materialiser thread not niced: %s", exc)


class Gateway(WriterMixin, TalkbackMixin):
    """HJ 212 gateway over one database.

    Parameters
    ----------
    db_path : DuckDB file (created and migrated if missing)
    settings : tunables; the packaged ``gateway.toml`` when None
    forward_to : ``host:port`` of an upstream platform to relay accepted packets to, or None

    """

    upload_cns = UPLOAD_CNS

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
        self.rx_buffer = ReceiveBuffer()  # one read buffer for every connection (gwconn)
        self._clock_mono = -1.0  # _received_at's last reading (monotonic s, CST datetime)
        self._clock_now = dt.datetime.min
        self.by_mn: dict[str, _Conn] = {}
        self.loggers: dict[str, LoggerState] = {}
        self.registry: dict[str, MonitoringPoint] = {}
        self._queue: list[tuple[_Conn, Incoming, Any]] = []  # (conn, item, part to answer)
        self._raw: list[tuple[_Conn, bytes, dt.datetime]] = []  # plain uploads, not decoded
        self._reassembler = Reassembler()
        self._wake = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-db",
                                      initializer=name_os_thread)
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-decode",
                                           initializer=name_os_thread)
        self._mat = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-mat",
                                       initializer=_materialiser_thread,
                                       initargs=(self.settings.materialise_nice,))
        self._jobs: list[CommitJob] = []  # handed to the database thread, not yet answered
        self._wake_at = self.settings.batch_max  # queued packets that wake a busy writer
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
        self._materialise_now = asyncio.Event()  # set once max_pending values wait

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
        s = self.settings
        self._store = await self._run_db(
            GatewayStore, self.db_path, s.checkpoint_threshold_mib, s.journal_first,
            s.journal_log, s.journal_segment_mib << 20, s.materialise_memory_max,
            self.forward_to, s.materialise_max_lag_s, s.duckdb_threads,
            s.duckdb_max_vacuum_tasks)
        if self._store.log is not None:  # one writer thread appends and fsyncs the log
            self._jlog = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantian-jlog",
                                            initializer=name_os_thread)
        self.status.extra = self._store.lag
        await self._run_db(gwbatch.warm_up)
        done = await self._run_db(self._store.catch_up, gwbatch.decode_journal)
        if done.replayed:
            log.warning("materialiser: %d journalled packets without values after a restart, "
                        "%d written now, %d failed (listed in materialise_failure)",
                        done.replayed, done.written, len(done.failed))
        self.status.counts["materialise_replayed"] += done.replayed
        await self.refresh_registry()
        for mn, (minute, hour) in (await self._run_db(self._store.last_period_times)).items():
            self.loggers[mn] = LoggerState(mn, last_minute=minute, last_hour=hour)
        await self._restore_split_parts()

    async def start(self, host: str = "127.0.0.1", port: int = 9212) -> int:
        """Open the database (unless :meth:`open` did), listen; return the bound port."""
        await self.open()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Conn(self), host, port, backlog=4096)
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._sweeper()),
                       asyncio.create_task(self._materialise_loop())]
        if self.forward_to:
            from lantian.hj212.forward import forward_loop

            self._tasks.append(asyncio.create_task(forward_loop(self)))
        bound = int(self._server.sockets[0].getsockname()[1])
        log.info("gateway listening on %s:%d (db %s)", host, bound, self.db_path)
        return bound

    async def stop(self) -> None:
        """Stop listening, commit what is queued, close connections and the database."""
        self._stopping = True
        if self._store is not None:  # the materialise loop ends: no append waits for it
            self._store.unthrottle()
        if self._server is not None:
            self._server.close()
        self._wake.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self._drain_writer()
        await self._materialise()
        await self._flush_side()
        for c in list(self.conns):
            c.close()
        if self._store is not None:
            await self._run_db(self._store.close)
        self._db.shutdown(wait=True)
        self._mat.shutdown(wait=True)
        self._decoder.shutdown(wait=True)
        if self._jlog is not None:
            self._jlog.shutdown(wait=True)
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
            self._raw.append((conn, frame, self._received_at()))
            conn.pending += 1
            if conn.pending >= self.settings.max_pending_per_conn:
                conn.add_pending(0)  # pause reading
            n = len(self._raw)
            if n == 1 or n >= self._wake_at:
                self._wake.set()
            return
        self._on_packet(conn, frame)

    def _received_at(self) -> dt.datetime:
        """Platform clock (CST) for a frame's receive time, read at most once a millisecond.

        Reading the wall clock as CST costs ≈ 1.6 µs; frames of the same event-loop pass
        share one reading, so a receive time is exact to 1 ms (it is journalled, never used
        for an acknowledgement decision).
        """
        mono = time.monotonic()
        if mono - self._clock_mono >= 0.001:
            self._clock_mono = mono
            self._clock_now = gwcodec.now_cst()
        return self._clock_now

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

    async def _restore_split_parts(self) -> None:
        """Rebuild pending split messages (PNUM/PNO) from the journal after a restart.

        Parts held for reassembly are journalled with their raw bytes only; those received
        within the reassembler's timeout whose message was not stored since are parsed again
        and re-added with their age, so a message completed after a restart is stored whole.
        A message the journal shows complete (its completing part was not stored) is
        stored now.
        """
        assert self._store is not None
        now, mono = gwcodec.now_cst(), time.monotonic()
        since = now - dt.timedelta(seconds=self._reassembler.timeout)
        held = await self._run_db(self._store.held_split_parts, since)
        parts: list[tuple[int, dt.datetime, Any]] = []
        for jid, received, raw in held:
            try:
                pkt = gwcodec.parse_packet(raw, strict=False)
                ts = gwcodec.data_time_to_datetime(pkt.data_time) if pkt.data_time else None
            except (gwcodec.PacketError, ValueError):
                continue
            point = self.registry.get(pkt.mn or "")
            if point is not None and point.sm4_key and getattr(pkt, "encrypted", False):
                pkt = gwcodec.parse_packet(raw, strict=False,
                                           sm4_key=bytes.fromhex(point.sm4_key))
            parts.append((jid, received, (pkt, ts)))
        keys = list({(p.mn, p.cn, ts) for _, _, (p, ts) in parts if ts and p.mn and p.cn})
        stored = await self._run_db(self._store.last_stored_ids, keys)
        whole: list[Incoming] = []
        for jid, received, (pkt, ts) in parts:
            if stored.get((pkt.mn, pkt.cn, ts), -1) > jid:
                continue  # its message was completed and stored after this part
            age = max(0.0, (now - received).total_seconds())
            done = self._reassembler.add(pkt, now=mono - age)
            if done is not None:
                whole.append(Incoming(done, pkt.raw, "journal:reassembly", now))
        self.status.counts["split_parts_restored"] += len(parts) - len(whole)
        if whole:
            await self._run_db(self._store.store_batch, whole)
        if parts:
            log.info("restored %d held split-message parts from the journal", len(parts))

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

    # -- housekeeping -----------------------------------------------------------------
    def _note_journalled(self) -> None:
        """After a journal commit: wake the materialiser once ``max_pending`` values wait."""
        store = self._store
        if store is not None and \
                store.pending_values >= self.settings.materialise_max_pending:
            self._materialise_now.set()

    async def _materialise(self) -> None:
        """Write the pending values on the materialiser thread (``lantian-mat``, niced)."""
        assert self._store is not None
        if not self._store.pending_values:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._mat, self._store.materialise)
        except StoreError as exc:  # values stay pending and are tried again next time
            self.status.counts["materialise_errors"] += 1
            log.error("%s", exc)
        except Exception:  # never let the materialiser loop die; tried again next time
            self.status.counts["materialise_errors"] += 1
            log.exception("materialiser: unexpected error")

    async def _materialise_loop(self) -> None:
        """Every ``interval_s`` (or at ``max_pending`` values) write the pending values."""
        interval = self.settings.materialise_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._materialise_now.wait(), interval)
            self._materialise_now.clear()
            await self._materialise()

    async def _sweeper(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.sweep_interval_s)
            await self._sweep()
            now = gwcodec.now_cst()
            await self._check_disk(now)
            await self._flush_side()
            if time.monotonic() - self._last_refresh > s.registry_refresh_s:
                await self.refresh_registry()

    async def _sweep(self) -> None:
        """Close idle connections and raise offline alerts, yielding to the loop as it goes.

        One comparison per connection (``last_rx`` against ``now − idle_timeout_s``) and per
        logger (``last_seen`` against :func:`~lantian.hj212.talkback.offline_cutoff`), over
        snapshots, with the event loop let in every ``SWEEP_SLICE`` items: at 10,000 loggers
        a sweep in one go held the loop for ≈ 11 ms every second (measured in-process on the
        shared machine, benchmarks/RESULTS.md "Session 5"): 1 % of the time, the packets of
        the acknowledgement latency's p99. A slice now holds it for ≈ 0.2-1 ms; the sweep's
        total CPU fell ≈ 3× (one comparison instead of ``is_offline``'s arithmetic).
        Times are China Standard Time.
        """
        s = self.settings
        idle_before = time.monotonic() - s.idle_timeout_s
        for k, c in enumerate(list(self.conns)):
            if c.last_rx < idle_before:
                self.status.counts["closed_idle"] += 1
                c.close()
            if k % SWEEP_SLICE == SWEEP_SLICE - 1:
                await asyncio.sleep(0)
        now = gwcodec.now_cst()
        cutoff = offline_cutoff(now, s.talkback)
        for k, st in enumerate(list(self.loggers.values())):
            seen = st.last_seen
            if seen is not None and seen < cutoff and not st.offline:
                st.offline = True
                silent = (now - seen).total_seconds()
                log.warning("MN %s offline: silent for %.0f s", st.mn, silent)
                self.status.counts["offline_alerts"] += 1
                self._went_offline.append((st.mn, f"silent {silent:.0f} s"))
            if k % SWEEP_SLICE == SWEEP_SLICE - 1:
                await asyncio.sleep(0)

    async def _check_disk(self, now: dt.datetime) -> None:
        free = free_bytes(self.db_path)
        if self._store is not None and self._store.log is not None:  # the log's disk too
            free = min(free, free_bytes(self._store.log.directory))
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

"""The gateway's writer: group commit, then the 9014 replies.

Readers only frame and queue (:meth:`lantian.hj212.gateway.Gateway.on_frame`). The writer
task takes what is queued as one batch, decodes and authenticates it (large batches on the
decoder thread, :mod:`lantian.hj212.gwbatch`), and hands it to the single database thread,
which journals and stores it in one transaction
(:meth:`lantian.hj212.gwstore.GatewayStore.store_batch`). Only when a commit has returned
are its 9014 replies (same QN, HJ 212-2017 §6.6, Appendix C) written and its talk-back
done — never before. The database thread runs commits in the order they were handed over,
so the commit order is the arrival order.

Batch sizes adapt: an idle writer waits ``batch_wait_s`` for more packets; under load a
batch is whatever arrived while the previous one was being committed (at most
``batch_max``). Each commit has a fixed cost (~15-20 ms of CPU in DuckDB, measured in
session 3), so large batches are cheap per packet.

Optional pipelining (``pipeline = true`` in ``gateway.toml``; off by default since session
3; session 7 measured it faster at 1,000 closed-loop connections but a slower burst): while a
commit runs, the next batch is decoded and handed over
once at least half as many packets wait as are being committed, and at least
``pipeline_min``; at most two batches are in flight.

Session 7: a batch is answered by a callback on its commit's future, on the event loop, as
soon as the commit returns (:meth:`WriterMixin._on_durable`) — not when the writer task next
looks, which in the pipelined mode could be after the next batch's decode; the 9014s are
built with the decode (:func:`lantian.hj212.gwbatch.sort_uploads`), so answering is only
writing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lantian.hj212 import gwbatch, gwcodec
from lantian.hj212.gwreply import data_replies
from lantian.store.columns import ColumnBatch

if TYPE_CHECKING:
    from lantian.hj212.gwconn import Connection

__all__ = ["CommitJob", "WriterMixin"]

log = logging.getLogger("lantian.gateway")

_GW = Any  # the Gateway this is mixed into (methods use its attributes)

_ACKED = frozenset({"accepted", "duplicate", "journalled"})  # journalled: in the file log
_ACKED_HELD = frozenset({"accepted", "duplicate", "held"})


@dataclass
class CommitJob:
    """One batch handed to the database thread.

    ``entries`` are ``(connection, packet to answer, packet for talk-back or None)``;
    ``acked`` the verdicts that are durably stored and so answered.
    """

    future: asyncio.Future[tuple[list[str], float]]
    entries: list[tuple[Connection, Any, Any]]
    acked: frozenset[str]
    replies: list[bytes | None] | None = None  # built beforehand, per entry (batch path)
    submitted: float = 0.0  # time.monotonic() when handed to the log / database thread [s]
    answered: asyncio.Future[None] | None = None  # done once its replies are written

    @property
    def size(self) -> int:
        """Packets in the batch."""
        return len(self.entries)


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and the :func:`time.monotonic` reading when it returned [s]."""
    out = fn(*args)
    return out, time.monotonic()


class WriterMixin:
    """Writer task of :class:`lantian.hj212.gateway.Gateway` (mixed in)."""

    _jlog: ThreadPoolExecutor | None = None  # the journal log's writer thread (file journal)
    _last_durable = 0.0  # time.monotonic() when the last batch became durable [s]

    def _has_work(self: _GW) -> bool:
        return bool(self._queue or self._raw)

    async def _writer(self: _GW) -> None:
        """Group-commit what is queued, one commit after another or pipelined (module docstring).

        ``self._jobs`` holds the submitted batches not yet answered, oldest first (at most
        two: the one committing and the one handed over behind it); a batch leaves it only
        once answered, so :meth:`_drain_writer` finishes whatever a cancellation
        interrupted. Readers wake the writer at the first queued packet and again once
        ``self._wake_at`` are queued (half the running commit's size, at least
        ``pipeline_min``).
        """
        busy = False
        jobs: list[CommitJob] = self._jobs
        batch_max = self.settings.batch_max
        pipelined = self.settings.pipeline
        while True:
            inflight = jobs[0] if jobs else None
            if inflight is not None and (len(jobs) > 1 or not pipelined):
                await self._finish(inflight)  # until the oldest batch is answered
                continue
            waiting = len(self._queue) + len(self._raw)
            enough = min(batch_max, max(self.settings.pipeline_min, inflight.size // 2)
                         if inflight else 1)
            if waiting < enough:
                self._wake_at = enough
                self._wake.clear()
                if inflight is None:
                    busy = False
                    await self._wake.wait()
                else:  # the batch answered, or enough packets for the next one
                    assert inflight.answered is not None
                    woken = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait({inflight.answered, woken},
                                       return_when=asyncio.FIRST_COMPLETED)
                    woken.cancel()
                continue
            if inflight is None and not busy and waiting < batch_max \
                    and self.settings.batch_wait_s > 0:
                await asyncio.sleep(self.settings.batch_wait_s)
            busy = True
            try:
                await self._prepare()  # submitted batches join self._jobs (_submit)
            except Exception:  # never let the writer die: log, and go on with the next batch
                log.exception("writer: unexpected error while preparing a batch")
                self.status.counts["writer_errors"] += 1

    async def _drain_writer(self: _GW) -> None:
        """Commit and answer everything queued (on stop, after the writer was cancelled)."""
        jobs: list[CommitJob] = self._jobs
        while True:
            while jobs:
                await self._finish(jobs[0])
            if not self._has_work():
                return
            await self._prepare()

    def _submit(self: _GW, batch: Any, entries: list[tuple[Connection, Any, Any]],
                acked: frozenset[str], replies: list[bytes | None] | None = None) -> CommitJob:
        """Hand ``batch`` to the log writer (file journal) or the database thread.

        ``replies``: the 9014 of each entry built beforehand (None: built once answered).
        """
        assert self._store is not None
        loop = asyncio.get_running_loop()
        if self._jlog is not None and isinstance(batch, ColumnBatch):
            # file journal: acknowledged after the log's fsync; DuckDB follows (forwarding
            # is queued in the materialiser's transaction, so after the fsync too)
            fut = loop.run_in_executor(self._jlog, _timed, self._store.log_batch, batch)
        else:
            fut = loop.run_in_executor(self._db, _timed, self._store.store_batch, batch,
                                       self.forward_to)
        job = CommitJob(fut, entries, acked, replies, time.monotonic(), loop.create_future())
        self._jobs.append(job)
        fut.add_done_callback(self._on_durable)
        return job

    def _on_durable(self: _GW, _fut: Any) -> None:
        """Answer every committed batch at the head of ``self._jobs`` (a commit returned).

        Runs on the event loop as soon as the log writer (or the database thread) returns
        (session 7), not when the writer task next looks — the writer may be waiting for
        the decoder thread meanwhile. Batches are answered in the order they were handed
        over, so a reply never overtakes an earlier batch's.
        """
        jobs: list[CommitJob] = self._jobs
        while jobs and jobs[0].future.done():
            job = jobs.pop(0)
            try:
                self._answer(job)
            except Exception:  # never leave a batch unanswered-and-waited-for
                log.exception("writer: unexpected error while answering a batch")
                self.status.counts["writer_errors"] += 1
            finally:
                if job.answered is not None and not job.answered.done():
                    job.answered.set_result(None)

    def _note_cycle(self: _GW, job: CommitJob, durable_at: float, answered: float,
                    done: float) -> None:
        """Add one batch's timeline to the status counters [µs] (session 7).

        ``cycle_commit_us``: handed over → durable (queue + encode + write + fsync on the
        log thread); ``cycle_answer_wait_us``: durable → the loop starts answering;
        ``cycle_answer_us``: answering (writes, talk-back); ``cycle_idle_us``: the log
        thread's gap between the previous batch becoming durable and this one being handed
        over (time the disk could have taken the next batch). Divide by ``cycle_batches``.
        """
        c = self.status.counts
        c["cycle_batches"] += 1
        c["cycle_commit_us"] += int(1e6 * (durable_at - job.submitted))
        c["cycle_answer_wait_us"] += int(1e6 * (answered - durable_at))
        c["cycle_answer_us"] += int(1e6 * (done - answered))
        last = self._last_durable
        if 0.0 < last < job.submitted:
            c["cycle_idle_us"] += int(1e6 * (job.submitted - last))
        self._last_durable = max(last, durable_at)

    async def _prepare(self: _GW) -> CommitJob | None:
        """Take the next batch off the queues and hand it to the database thread."""
        job = await self._prepare_raw() if self._raw else None
        if job is None and self._queue:
            job = self._prepare_items()
        return job

    async def _prepare_raw(self: _GW) -> CommitJob | None:
        """Sort the queued raw uploads (:func:`gwbatch.sort_uploads`), submit the plain ones.

        A batch of ``decode_thread_min`` or more is sorted on the decoder thread — decode,
        headers, authentication, the store batch and the 9014 replies (session 7) — while
        the event loop keeps reading and answering; a smaller one on the loop. The loop then
        does only what needs connection state, in queue order: frames of a connection
        closed for failed authentication are dropped, rejected ones counted and logged,
        other ones handed to the per-packet path, plain ones counted against their
        connection.
        """
        raw = self._raw[: self.settings.batch_max]
        del self._raw[: len(raw)]
        frames = [f for _, f, _ in raw]
        peers = [c.peer for c, _, _ in raw]
        received = [r for _, _, r in raw]
        args = (frames, peers, received, self.registry, self.upload_cns, gwcodec.now_cst())
        if len(frames) < self.settings.decode_thread_min:  # light load: no thread hand-off
            s = gwbatch.sort_uploads(*args)
        else:
            try:
                s = await asyncio.get_running_loop().run_in_executor(
                    self._decoder, gwbatch.sort_uploads, *args)
            except asyncio.CancelledError:  # stopping: put the batch back for the drain
                self._raw[:0] = raw
                raise
        kinds, heads, by_mn, accepting = s.kinds, s.heads, self.by_mn, self.status.accepting
        plain, kept = gwbatch.PLAIN, []
        for i, (conn, frame, _) in enumerate(raw):
            if conn.auth_closed:  # closed for failed authentication: dropped
                conn.add_pending(-1)
                continue
            kind = kinds[i]
            if kind == plain:
                conn.auth_failures = 0
                mn = heads[i].mn
                if conn.mn != mn:
                    conn.mn = mn
                    by_mn[mn] = conn
                if accepting:  # stays pending (queued → committing): no count changes
                    kept.append(i)
                    continue
                conn.add_pending(-1)
                self.status.counts["not_acknowledged_disk"] += 1
                continue
            conn.add_pending(-1)
            if kind == gwbatch.REJECT:
                self._reject(conn, frame, heads[i], s.reasons[i])
            else:
                self._on_packet(conn, frame)  # unusual: the per-packet path decides
        if len(kept) != len(s.rows):  # connection state ruled rows out: rebuild (rare)
            s = gwbatch.keep_rows(s, kept, frames, peers, received)
        if s.batch is None:
            return None
        entries = [(raw[i][0], heads[i], heads[i]) for i in s.rows]
        job: CommitJob = self._submit(s.batch, entries, _ACKED, s.replies)
        return job

    def _prepare_items(self: _GW) -> CommitJob | None:
        """Submit queued parsed packets (the per-packet path: split parts, SM4, 2005 …)."""
        batch = self._queue[: self.settings.batch_max]
        del self._queue[: len(batch)]
        if not batch:
            return None
        entries = [(conn, part, None if inc.held else inc.packet) for conn, inc, part in batch]
        job: CommitJob = self._submit([i for _, i, _ in batch], entries, _ACKED_HELD)
        return job

    async def _finish(self: _GW, job: CommitJob) -> None:
        """Wait until ``job`` is answered (:meth:`_on_durable`; a cancelled writer leaves it)."""
        assert job.answered is not None
        await asyncio.shield(job.answered)

    def _answer(self: _GW, job: CommitJob) -> None:
        """After a commit: answer (9014) in arrival order, then talk back for the batch.

        Session 11: every 9014 of the batch is written before the talk-back (one
        :meth:`~lantian.hj212.gwtalk.TalkbackMixin._talkback` call per batch, in arrival
        order), so no logger's reply waits for the others' talk-back; a request to a logger
        (1012 set time, 2051/2061 fetch) still follows its own reply on its connection.
        """
        fut = job.future
        exc = BaseException("cancelled") if fut.cancelled() else fut.exception()
        if exc is not None:  # the store failed: acknowledge nothing, say why
            log.error("commit of %d packets failed, none acknowledged: %s", job.size, exc)
            self.status.counts["commit_failures"] += 1
            for conn, _, _ in job.entries:
                conn.add_pending(-1)
            return
        verdicts, durable_at = fut.result()
        answered = time.monotonic()
        counts = self.status.counts
        counts["batches"] += 1
        counts.update(verdicts)
        now = gwcodec.now_cst()
        acked = job.acked
        replies = job.replies
        if replies is None:  # the per-packet path: build the replies now
            wanted = [verdict in acked and part.needs_reply
                      for (_, part, _), verdict in zip(job.entries, verdicts, strict=True)]
            built: Iterator[bytes] = iter(data_replies(
                [e[1] for e, w in zip(job.entries, wanted, strict=True) if w], now))
            replies = [next(built) if w else None for w in wanted]
        talk: list[tuple[Connection, Any]] = []  # talked back to once every 9014 is out
        n_acked = 0
        for (conn, _part, t), verdict, reply in zip(job.entries, verdicts, replies,
                                                    strict=True):
            conn.pending -= 1  # Connection.add_pending(-1) without the call when not paused
            if conn.paused:
                conn.add_pending(0)  # resumes reading below half the limit
            if verdict not in acked:
                continue
            if reply is not None:  # each part of a split message is answered with its own QN
                conn.write(reply)
                n_acked += 1
            if t is not None and verdict != "held":
                talk.append((conn, t))
        counts["acked"] += n_acked
        if talk:  # a logger's request (1012, history) still follows its own 9014
            self._talkback(talk, now)
        self._note_cycle(job, durable_at, answered, time.monotonic())
        self._note_journalled()

"""Background jobs with progress (后台任务): report generation, Excel ledgers, assessments.

A job is a row of the ``job`` table (migration ``0701_jobs.sql``): ``queued`` → ``running``
→ ``done`` or ``failed``, with ``done``/``total`` steps and a ``message`` saying what runs.
Jobs run one at a time in a worker thread of the web process (DuckDB has one writer; the
machine is small), each on its own cursor. Pages poll ``GET /api/jobs/{id}``; the CLI runs the
same work functions in the foreground with a rich progress bar. Times are China Standard Time.

Kinds (``params`` keys):

``monthly_report``
    ``month``, ``enterprise_id`` → HTML and PDF (:func:`lantian.reports.monthly.write_monthly`).
``ledgers``
    ``month`` → one Excel workbook (:mod:`lantian.reports.excel`).
``assess``
    ``month`` → monthly ULE verdict per point (:func:`lantian.engine.assess.assess_month`),
    the figures returned in ``result``.
``import_packets``
    ``file`` (uploaded into the job directory) → HJ 212 packets imported through the store
    (:func:`lantian.store.bulk.import_packet_file`), progress in lines; the import summary
    (accepted / duplicate / rejected) in ``result``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from lantian.api.params import cst_now
from lantian.errors import ConfigurationError, LantianError, NotFoundError


class JobQueueFullError(LantianError):
    """Too many jobs are waiting (the caller should retry later)."""


__all__ = ["KINDS", "JobQueueFullError", "JobRunner", "get_job", "job_dir"]

Progress = Callable[[int, int, str], None]


def job_dir(db_path: Path, job_id: int) -> Path:
    """Directory of a job's files: ``<db stem>.jobs/<id>/`` next to the database."""
    return db_path.parent / f"{db_path.stem}.jobs" / str(job_id)


def _monthly(con: duckdb.DuckDBPyConnection, params: dict[str, Any], out: Path,
             progress: Progress) -> dict[str, Any]:
    from lantian.reports.monthly import write_monthly

    rows = write_monthly(con, params["month"], [int(params["enterprise_id"])], out,
                         bureau=params.get("bureau"), progress=progress)
    return {"files": [Path(p).name for r in rows for p in (r["pdf"], r["html"]) if p],
            "reports": rows}


def _ledgers(con: duckdb.DuckDBPyConnection, params: dict[str, Any], out: Path,
             progress: Progress) -> dict[str, Any]:
    from lantian.reports.excel import ledger_rows, write_ledgers

    progress(0, 2, "assess")
    sheets = ledger_rows(con, params["month"])
    progress(1, 2, "write")
    path = write_ledgers(sheets, out / f"ledgers_{params['month']}.xlsx",
                         subtitle=f"{params['month']}（中国标准时间）")
    progress(2, 2, "")
    return {"files": [path.name], "rows": {k: len(v) for k, v in sheets.items()}}


def _assess(con: duckdb.DuckDBPyConnection, params: dict[str, Any], out: Path,
            progress: Progress) -> dict[str, Any]:
    from lantian.engine.assess import assess_month, monthly_record
    from lantian.reports.monthly import ibis_backend

    progress(0, 1, "assess")
    rows = assess_month(ibis_backend(con), params["month"]).execute().to_dict("records")
    progress(1, 1, "")
    return {"files": [], "points": [monthly_record(r) for r in rows]}


def _import_packets(con: duckdb.DuckDBPyConnection, params: dict[str, Any], out: Path,
                    progress: Progress) -> dict[str, Any]:
    from lantian.hj212.columnar import column_decoder
    from lantian.store.bulk import import_packet_file
    from lantian.store.ingest import PacketStore

    path = out / params["file"]
    with path.open("rb") as fh:
        total = sum(1 for line in fh if line.strip())
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(min(done, total), total, params["file"])

    store = PacketStore(con)
    summary = import_packet_file(store, path, decode_columns=column_decoder(True), progress=advance)
    store.checkpoint()
    path.unlink()  # the packets are in the journal now
    return {"files": [], "summary": summary.as_dict()}


KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "monthly_report": _monthly, "ledgers": _ledgers, "assess": _assess,
    "import_packets": _import_packets,
}


def _row(cur: duckdb.DuckDBPyConnection, job_id: int) -> dict[str, Any] | None:
    c = cur.execute("SELECT id, kind, params, state, done, total, message, result, created_by, "
                    "created_at, started_at, finished_at FROM job WHERE id = ?", [job_id])
    names = [d[0] for d in c.description]
    rows = c.fetchall()
    if not rows:
        return None
    rec = dict(zip(names, rows[0], strict=True))
    rec["params"] = json.loads(rec["params"])
    rec["result"] = json.loads(rec["result"]) if rec["result"] else None
    return rec


def get_job(cur: duckdb.DuckDBPyConnection, job_id: int) -> dict[str, Any]:
    """Return the job row (``params``/``result`` decoded); :class:`NotFoundError` if none."""
    rec = _row(cur, job_id)
    if rec is None:
        raise NotFoundError(f"no job {job_id}")
    return rec


class JobStopped(Exception):
    """The job runner was stopped while this job ran (server shutdown)."""


class JobRunner:
    """Runs jobs one at a time on a worker thread; state lives in the ``job`` table.

    ``cursor`` is a context manager factory yielding a DuckDB cursor (the app's
    :meth:`lantian.api.deps.Database.cursor`).
    """

    def __init__(self, cursor: Callable[[], Any], db_path: Path, max_queued: int = 20) -> None:
        self._cursor = cursor
        self._db_path = db_path
        self._queue: queue.Queue[tuple[int, str, dict[str, Any]] | None] = queue.Queue()
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._running: Any = None  # the cursor of the job in progress (to interrupt it)
        # a daemon thread: an exiting server does not wait for a long report to finish
        self._worker = threading.Thread(target=self._loop, name="lantian-job", daemon=True)
        self._worker.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None or self._stopping.is_set():
                    return  # jobs still queued stay ``queued`` in the table
                self._run(*item)
            finally:
                self._queue.task_done()

    def submit(self, kind: str, params: dict[str, Any], who: str,
               files: dict[str, bytes] | None = None) -> int:
        """Queue a job; return its id. Raises :class:`ConfigurationError` on unknown kinds.

        ``files`` are written into the job's directory before it starts (uploads).
        """
        if kind not in KINDS:
            raise ConfigurationError(f"unknown job kind {kind!r} (use one of {', '.join(KINDS)})")
        if self._queue.qsize() >= self._max_queued:
            raise JobQueueFullError(f"{self._queue.qsize()} jobs are waiting; try again later")
        with self._cursor() as cur:
            job_id = int(cur.execute(
                "INSERT INTO job (kind, params, state, created_by, created_at) "
                "VALUES (?, ?, 'queued', ?, ?) RETURNING id",
                [kind, json.dumps(params, ensure_ascii=False), who, cst_now()],
            ).fetchall()[0][0])
        if files:
            d = job_dir(self._db_path, job_id)
            d.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (d / Path(name).name).write_bytes(data)
        self._queue.put((job_id, kind, params))
        return job_id

    def _set(self, job_id: int, **cols: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self._lock, self._cursor() as cur:
            cur.execute(f"UPDATE job SET {sets} WHERE id = ?", [*cols.values(), job_id])

    def _run(self, job_id: int, kind: str, params: dict[str, Any]) -> None:
        self._set(job_id, state="running", started_at=cst_now(), message="")

        def progress(done: int, total: int, label: str) -> None:
            if self._stopping.is_set():
                raise JobStopped("stopped: the server shut down (停止：服务关闭)")
            self._set(job_id, done=done, total=total, message=label)

        try:
            with self._cursor() as cur:
                self._running = cur
                try:
                    result = KINDS[kind](cur, params, job_dir(self._db_path, job_id), progress)
                finally:
                    self._running = None
            self._set(job_id, state="done", finished_at=cst_now(),
                      result=json.dumps(_plain(result), ensure_ascii=False))
        except LantianError as exc:
            self._set(job_id, state="failed", finished_at=cst_now(), message=str(exc))
        except Exception as exc:
            message = (str(exc) if isinstance(exc, JobStopped) else
                       "stopped: the server shut down (停止：服务关闭)"
                       if self._stopping.is_set() else f"{type(exc).__name__}: {exc}")
            self._set(job_id, state="failed", finished_at=cst_now(), message=message)

    def shutdown(self) -> None:
        """Finish the queued jobs, then stop the worker."""
        self._queue.put(None)
        self._worker.join()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop at server shutdown: interrupt the running job, start no queued one.

        The running job is marked ``failed`` with the reason; queued jobs stay ``queued``.
        Waits at most ``timeout`` seconds [s] for the worker, so that the database can be
        closed afterwards (DuckDB refuses to close a connection a cursor is busy on).
        """
        self._stopping.set()
        self._queue.put(None)
        deadline = time.monotonic() + timeout
        # Interrupt repeatedly: an interrupt sent between two statements of a job (or just
        # before its query starts) is lost, so keep sending until the worker has left.
        while self._worker.is_alive() and time.monotonic() < deadline:
            cur = self._running
            if cur is not None:
                with contextlib.suppress(Exception):
                    cur.interrupt()
            self._worker.join(min(0.1, max(0.0, deadline - time.monotonic())))


def _plain(value: Any) -> Any:
    from lantian.api.export import cell

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return cell(value) if not isinstance(value, str | int | float | bool | type(None)) else value

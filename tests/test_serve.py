"""``lantian serve`` as a process: SIGKILL mid-stream, restart on the same file, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from test_gateway_helpers import Client, minute_packet, mn_of, register

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lantian() -> list[str]:
    exe = Path(sys.executable).with_name("lantian")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from lantian.cli import main; main()"]


def _start(db: Path, port: int, log: Path, http_port: int = 0,
           settings: Path | None = None, status: Path | None = None) -> subprocess.Popen:
    extra = ["--settings", str(settings)] if settings else []
    extra += ["--status-file", str(status)] if status else []
    proc = subprocess.Popen(
        [*_lantian(), "serve", "--db", str(db), "--gateway-port", str(port),
         "--http-port", str(http_port), *extra],
        stdout=subprocess.PIPE, stderr=log.open("ab"), env={**os.environ},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"serve did not listen: {log.read_text()}")


async def _stream(port: int, mns: list[str], acked: set, stop: asyncio.Event) -> None:
    async def one(mn: str) -> None:
        try:
            c = await Client().connect(port)
        except OSError:
            return
        m = 0
        try:
            while not stop.is_set():
                qn, raw = minute_packet(mn, m, so2=float(m))
                await c.send(raw)
                if await c.wait_for("9014", qn=qn, timeout=2) is None:
                    return
                acked.add((mn, qn))
                m += 1
        except (ConnectionError, OSError):
            return
        finally:
            await c.close()

    await asyncio.gather(*(one(mn) for mn in mns))


async def test_sigkill_mid_stream_loses_no_acknowledged_packet(tmp_path):
    procs: list[subprocess.Popen] = []
    try:
        await _sigkill_scenario(tmp_path, procs)
    finally:  # never leave a server behind when an assertion fails
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


async def _sigkill_scenario(tmp_path: Path, procs: list[subprocess.Popen]) -> None:
    db = tmp_path / "serve.duckdb"
    log = tmp_path / "serve.log"
    mns = [mn_of(i) for i in range(20)]
    register(db, mns)
    port = _free_port()
    # journal-first: the materialiser never runs before the kill (values only in memory)
    from importlib import resources

    packaged = resources.files("lantian.catalog").joinpath("data/gateway.toml").read_text()
    lazy = tmp_path / "lazy.toml"
    lazy.write_text(packaged.replace("interval_s = 1.0", "interval_s = 3600.0")
                    .replace("\nmax_pending = ", "\nmax_pending = 100000000 #"))
    proc = _start(db, port, log, settings=lazy)
    procs.append(proc)
    acked: set[tuple[str, str]] = set()
    stop = asyncio.Event()
    task = asyncio.create_task(_stream(port, mns, acked, stop))
    for _ in range(100):  # let a good number of packets through, then kill mid-stream
        await asyncio.sleep(0.05)
        if len(acked) > 300:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    await task
    assert len(acked) > 300
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 0  # a tail to replay
    # file journal (the default): acknowledged once fsync'd in <db>.journal/*.seg, DuckDB
    # holds nothing of them yet
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == 0
    con.close()
    assert list(Path(f"{db}.journal").glob("*.seg"))

    # restart: before listening, the un-materialised tail of the journal is decoded again and
    # its values written; kill -9 again right away and look at the wide table
    proc = _start(db, port, log)
    procs.append(proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert "journalled packets without values after a restart" in log.read_text()
    con = duckdb.connect(str(db))
    in_wide = set(con.execute(
        "SELECT j.mn, j.qn FROM packet_journal j JOIN flue_minute f ON f.packet_id = j.id"
        " AND f.mn = j.mn AND f.ts = j.data_time").fetchall())
    con.close()
    no_values = acked - in_wide
    assert not no_values, f"{len(no_values)} acknowledged packets not in flue_minute after catch-up"
    con = duckdb.connect(str(db))
    twice = con.execute("SELECT count(*) FROM (SELECT mn, qn FROM packet_journal"
                        " GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]
    con.close()
    assert twice == 0  # the replay wrote each record once (watermark in the same transaction)

    # restart on the same file (WAL replay), now with the HTTP API in the same process
    http_port = _free_port()
    status = tmp_path / "status.json"
    proc = _start(db, port, log, http_port, status=status)
    procs.append(proc)
    c = await Client().connect(port)
    qn, raw = minute_packet(mns[0], 10_000)
    await c.send(raw)
    assert await c.wait_for("9014", qn=qn, timeout=15) is not None
    acked.add((mns[0], qn))
    await c.close()
    import httpx

    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                r = await http.get(f"http://127.0.0.1:{http_port}/openapi.json")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    assert r.status_code == 200 and "Lantian" in r.json()["info"]["title"]
    # then a clean SIGTERM stops both
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log.read_text()
    assert proc.stdout is not None and proc.stdout.read() == b""  # stdout stays clean
    import json

    final = json.loads(status.read_text())  # --status-file: the counters after the stop
    assert final["acked"] == 1 and final["materialise_pending_packets"] == 0
    assert final["materialised_up_to_id"] >= 1 and final["materialise_failures"] == 0
    assert final["gc_frozen_objects"] > 0  # [runtime] gc_freeze applied by serve (gwruntime)

    con = duckdb.connect(str(db), read_only=True)
    stored = set(con.execute(
        "SELECT mn, qn FROM packet_journal WHERE verdict = 'accepted'").fetchall())
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged packets lost, e.g. {sorted(missing)[:3]}"
    assert con.execute("SELECT count(*) FROM packet_journal").fetchone()[0] == len(stored)
    n_min = con.execute("SELECT count(*) FROM flue_minute").fetchone()[0]
    assert n_min >= len(acked)
    assert con.execute("SELECT count(*) FROM materialise_failure").fetchone()[0] == 0


def test_serve_reports_a_port_in_use(tmp_path):
    from typer.testing import CliRunner

    from lantian.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "x.duckdb"),
                                     "--gateway-port", str(port), "--http-port", "0"])
    assert r.exit_code != 0
    assert r.stdout == ""
    assert f"error: cannot listen on 127.0.0.1:{port}" in r.stderr


def test_serve_reports_an_unreadable_settings_file(tmp_path):
    from typer.testing import CliRunner

    from lantian.cli import app

    missing = tmp_path / "none.toml"
    r = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "x.duckdb"), "--gateway-port",
                                 "0", "--http-port", "0", "--settings", str(missing)])
    assert r.exit_code != 0 and r.stdout == ""
    assert "cannot read gateway settings" in r.stderr and str(missing) in r.stderr

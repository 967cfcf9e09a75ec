"""The logger simulator against a loopback gateway, and the ``lantian simulate`` contract."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import duckdb
import pytest

from lantian.hj212 import parse_packet
from lantian.hj212.gwcodec import now_cst
from lantian.hj212.simulator import MISBEHAVIOURS, PROFILES, make_fleet, register_fleet, run_fleet
from test_gateway_helpers import Client, minute_packet, start_gateway

pytestmark = pytest.mark.timeout(90)


def test_fleet_mixes_sources_versions_and_misbehaviours():
    fleet = make_fleet(100, seed=3)
    assert len({s.mn for s in fleet}) == 100
    assert {s.source_type for s in fleet} == set(PROFILES)
    versions = Counter(s.version for s in fleet)
    assert versions["2017"] > 70 and versions["2005"] >= 3
    bad = Counter(s.misbehaviour for s in fleet if s.misbehaviour)
    assert set(bad) == set(MISBEHAVIOURS)
    assert sum(bad.values()) <= 10
    assert all(len(s.mn) == 24 for s in fleet if s.version == "2017")
    assert make_fleet(100, seed=3) == fleet  # reproducible from the seed


async def test_fleet_against_gateway_acked_packets_stored_and_talkback_answered(db_path):
    fleet = make_fleet(100, seed=1)
    register_fleet(db_path, fleet)
    good = next(s for s in fleet if s.version == "2017" and s.misbehaviour is None)
    wrong_pw = next(s for s in fleet if s.misbehaviour == "wrong_password")
    drift = next(s for s in fleet if s.misbehaviour == "clock_drift")
    gw, port = await start_gateway(db_path)
    try:
        # one stored minute 8 minutes before the simulator's period clock starts: the gateway
        # finds the gap on the first simulated minute and asks for it (2051 history request)
        duration, rate = 3.0, 60.0
        start = now_cst().replace(second=0, microsecond=0) - dt.timedelta(
            minutes=int(duration / (60 / rate)))
        c = await Client().connect(port)
        base = start - dt.timedelta(minutes=8)
        qn, raw = minute_packet(good.mn, 0, pw=good.password, base=base)
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn) is not None
        await c.close()
        stats = await run_fleet(fleet, "127.0.0.1", port, rate=rate, duration=duration,
                                seed=1, timeout=1.0)
    finally:
        await gw.stop()
    assert stats["connections"] >= 100
    assert stats["acked"] > 300
    assert stats["set_time"] >= 1  # the drifting logger's clock was set (1012)
    assert stats["history_request_2051"] >= 1 and stats["history_sent"] >= 7
    con = duckdb.connect(str(db_path), read_only=True)
    journal = dict(con.execute(
        "SELECT verdict, count(*) FROM packet_journal GROUP BY verdict").fetchall())
    # every acknowledgement was for a stored packet (a retransmission is stored once)
    assert journal["accepted"] + journal.get("duplicate", 0) >= stats["acked"]
    assert journal.get("duplicate", 0) <= stats["retransmitted"]
    assert con.execute("SELECT count(*) FROM packet_journal WHERE mn = ?",
                       [wrong_pw.mn]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM rejected_traffic WHERE mn = ?",
                       [wrong_pw.mn]).fetchone()[0] >= 1
    # the gap was filled: minutes base .. base+7 of the good logger are all there now
    got = {r[0] for r in con.execute(
        "SELECT ts FROM flue_minute WHERE mn = ? AND ts < ?", [good.mn, start]).fetchall()}
    assert got == {base + dt.timedelta(minutes=k) for k in range(8)}
    cmds = dict(con.execute("SELECT cn, count(*) FROM gateway_command GROUP BY cn").fetchall())
    assert cmds.get("2051", 0) >= 1 and cmds.get("1012", 0) >= 1
    assert con.execute("SELECT count(*) FROM gateway_command WHERE mn = ? AND cn = '1012'",
                       [drift.mn]).fetchone()[0] >= 1


def test_simulate_register_only_cli(db_path):
    from typer.testing import CliRunner

    from lantian.cli import app

    r = CliRunner().invoke(app, ["simulate", "--port", "9", "--loggers", "12", "--duration",
                                 "0", "--register", "--db", str(db_path)])
    assert r.exit_code == 0, r.stderr
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"loggers": 12, "registered": True}]
    con = duckdb.connect(str(db_path), read_only=True)
    mns = {m for (m,) in con.execute("SELECT mn FROM monitoring_point").fetchall()}
    assert mns == {s.mn for s in make_fleet(12, 0)}


def test_simulate_cli_reports_unreachable_gateway(db_path):
    import socket

    from typer.testing import CliRunner

    from lantian.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = CliRunner().invoke(app, ["simulate", "--port", str(port), "--loggers", "2",
                                 "--rate", "10", "--duration", "0.5", "--seed", "4"])
    assert r.exit_code != 0
    assert "error: no connection could be made" in r.stderr
    assert json.loads(r.stdout.splitlines()[0])["loggers"] == 2


def test_simulated_packets_decode_strictly():
    from lantian.hj212.simulator import _Logger

    for spec in make_fleet(30, seed=2)[:12]:
        lg = _Logger(spec, __import__("random").Random(0), 1.0, Counter())
        for cn in ("2011", "2051", "2061"):
            _, raw = lg.packet(cn, dt.datetime(2024, 1, 1, 8, 0))
            p = parse_packet(raw.rstrip(b"\r\n"))
            assert p.crc_ok and p.cn == cn and p.mn == spec.mn
            assert p.version == spec.version
            assert p.values

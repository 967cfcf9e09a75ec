"""Split messages (PNUM/PNO) survive a gateway restart between their parts."""

from __future__ import annotations

import duckdb
import pytest

from lantian.hj212 import build_packet
from test_gateway_helpers import PW, Client, mn_of, register, start_gateway

pytestmark = pytest.mark.timeout(60)

DT = "20240301090000"


def _part(qn: str, pno: int, pnum: int, values: dict, mn: str | None = None) -> bytes:
    return build_packet(st="31", cn="2051", pw=PW, mn=mn or mn_of(1), flag=7, qn=qn,
                        data_time=DT, values=values, pnum=pnum, pno=pno)


P1 = ("20240301090000001", {"a21026": {"Avg": 21.5, "Flag": "N"}})
P2 = ("20240301090000002", {"a21002": {"Avg": 45.0, "Flag": "N"}})
P3 = ("20240301090000003", {"a19001": {"Avg": 10.6, "Flag": "N"}})


async def _send(port: int, frames: list[tuple[str, bytes]]) -> None:
    c = await Client().connect(port)
    for qn, raw in frames:
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn) is not None, qn
    await c.close()


async def test_message_completed_after_restart_is_stored_whole(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path)
    try:  # parts 1 and 2 of 3, then the gateway goes down
        await _send(port, [(P1[0], _part(P1[0], 1, 3, P1[1])), (P2[0], _part(P2[0], 2, 3, P2[1]))])
    finally:
        await gw.stop()
    gw, port = await start_gateway(db_path)
    try:
        assert len(gw._reassembler) == 1
        assert gw.status.counts["split_parts_restored"] == 2
        await _send(port, [(P3[0], _part(P3[0], 3, 3, P3[1]))])
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT mn, ts::VARCHAR, so2_mg_m3, nox_mg_m3, o2_pct FROM flue_minute"
                       ).fetchall()
    assert rows == [(mn_of(1), "2024-03-01 09:00:00", 21.5, 45.0, 10.6)]
    verdicts = [r[0] for r in con.execute("SELECT verdict FROM packet_journal ORDER BY id"
                                          ).fetchall()]
    assert verdicts[-1] == "accepted" and len(verdicts) == 3


async def test_completed_and_expired_messages_are_not_rebuilt(db_path):
    register(db_path, [mn_of(1), mn_of(2)])
    gw, port = await start_gateway(db_path)
    try:  # one whole message, and one part of a second message
        await _send(port, [(P1[0], _part(P1[0], 1, 2, P1[1])), (P3[0], _part(P3[0], 2, 2, P3[1]))])
        await _send(port, [(P2[0], _part(P2[0], 1, 2, P2[1], mn=mn_of(2)))])
    finally:
        await gw.stop()
    gw, _ = await start_gateway(db_path)
    try:
        assert len(gw._reassembler) == 1  # only mn 2's open message
        assert next(iter(gw._reassembler._pending))[0] == mn_of(2)
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path))
    con.execute("UPDATE packet_journal SET received_at = received_at - INTERVAL 11 MINUTE")
    con.close()
    gw, _ = await start_gateway(db_path)
    try:  # held longer ago than the reassembler's timeout (600 s): not rebuilt
        assert len(gw._reassembler) == 0
    finally:
        await gw.stop()

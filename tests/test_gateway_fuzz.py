"""Bounded fuzz of the gateway's framing: random bytes with valid packets interleaved.

Each round writes one stream over a fresh connection, cut into random chunk sizes: valid
minute packets, and between them noise of five kinds (random bytes, truncated packets,
packets with a corrupted byte, fake ``##LLLL`` headers, oversized runs). Noise ends at a
line end, as the tail of a broken frame does on a real link; every valid packet must then
be acknowledged and stored. A second test sends noise with no line end at all: then a
valid frame can be swallowed by a fake header before it (inherent to resync on ``##``), so
it checks only that the gateway stays up and that every acknowledged packet is stored.
"""

from __future__ import annotations

import asyncio
import random

import duckdb
import pytest

from test_gateway_helpers import Client, minute_packet, mn_of, register, start_gateway

pytestmark = pytest.mark.timeout(120)
ROUNDS = 25


def _noise(rng: random.Random, valid: bytes) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    elif kind == 1:
        body = valid[: rng.randrange(1, len(valid) - 2)]
    elif kind == 2:
        i = rng.randrange(6, len(valid) - 6)
        body = valid[:i] + bytes([valid[i] ^ 0x01]) + valid[i + 1 : -2]
    elif kind == 3:
        body = b"##%04d" % rng.randrange(10000) + bytes(
            rng.choice(b"0123456789;=&#ABC") for _ in range(rng.randrange(0, 80)))
    else:
        body = b"##9999" + bytes(rng.randrange(32, 127) for _ in range(12000))
    return body + b"\r\n"


async def _send_chunked(c: Client, stream: bytes, rng: random.Random) -> None:
    i = 0
    while i < len(stream):
        n = rng.choice((1, 7, 64, 500, 2000))
        await c.send(stream[i : i + n])
        i += n
        if rng.random() < 0.05:
            await asyncio.sleep(0.001)


async def test_fuzzed_streams_every_valid_packet_stored_and_acknowledged(db_path):
    mns = [mn_of(i) for i in range(ROUNDS)]
    register(db_path, mns)
    gw, port = await start_gateway(db_path)
    expected: set[tuple[str, str]] = set()
    try:
        for r, mn in enumerate(mns):
            rng = random.Random(r)
            parts, qns = [], []
            for m in range(rng.randrange(3, 12)):
                qn, raw = minute_packet(mn, m, so2=float(r * 100 + m))
                for _ in range(rng.randrange(0, 3)):
                    parts.append(_noise(rng, raw))
                parts.append(raw)
                qns.append(qn)
            c = await Client().connect(port)
            await _send_chunked(c, b"".join(parts), rng)
            for qn in qns:
                assert await c.wait_for("9014", qn=qn, timeout=5) is not None, (r, qn)
                expected.add((mn, qn))
            await c.close()
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    stored = set(con.execute(
        "SELECT mn, qn FROM packet_journal WHERE verdict = 'accepted'").fetchall())
    assert stored == expected
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == len(expected)


async def test_unterminated_noise_never_crashes_and_acks_only_stored(db_path):
    mns = [mn_of(i) for i in range(10)]
    register(db_path, mns)
    gw, port = await start_gateway(db_path)
    acked: set[tuple[str, str]] = set()
    try:
        for r, mn in enumerate(mns):
            rng = random.Random(1000 + r)
            parts, qns = [], []
            for m in range(8):
                qn, raw = minute_packet(mn, m)
                parts.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400))))
                parts.append(raw)
                qns.append(qn)
            c = await Client().connect(port)
            await _send_chunked(c, b"".join(parts), rng)
            for p in await c.read_packets(timeout=0.5):
                if p.cn == "9014":
                    acked.add((mn, p.qn))
            await c.close()
        # still serving after all that
        c = await Client().connect(port)
        qn, raw = minute_packet(mns[0], 59)
        await c.send(raw)
        assert await c.wait_for("9014", qn=qn) is not None
        acked.add((mns[0], qn))
        await c.close()
    finally:
        await gw.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    stored = set(con.execute(
        "SELECT mn, qn FROM packet_journal WHERE verdict = 'accepted'").fetchall())
    assert acked <= stored
    assert len(acked) > len(mns)  # most valid frames survive the noise

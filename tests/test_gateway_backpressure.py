"""Backpressure per connection: reading pauses at ``max_pending_per_conn`` packets waiting
for the commit and resumes below half of it (bounded memory per connection).

Session 5 ("gwloop") counts pending packets inline on the hot path; this proves the pause
and the resume still happen, and that every packet is answered once the commit returns.
"""

from __future__ import annotations

import asyncio

from test_gateway_helpers import (
    Client,
    block_ack_write,
    minute_packet,
    mn_of,
    register,
    start_gateway,
)


async def test_reading_pauses_at_the_limit_and_resumes_after_the_commit(db_path):
    register(db_path, [mn_of(1)])
    gw, port = await start_gateway(db_path, max_pending_per_conn=4)
    release = block_ack_write(gw)
    try:
        c = await Client().connect(port)
        packets = [minute_packet(mn_of(1), k) for k in range(10)]
        await c.send(b"".join(raw for _, raw in packets))  # one write: all 10 frames
        conn = None
        for _ in range(100):
            conn = gw.by_mn.get(mn_of(1))
            if conn is not None and conn.pending >= 4:
                break
            await asyncio.sleep(0.02)
        assert conn is not None and conn.paused, "reading not paused at 4 pending packets"
        assert conn.pending >= 4
        release.set()
        for qn, _ in packets:
            assert await c.wait_for("9014", timeout=10, qn=qn) is not None, qn
        for _ in range(50):
            if conn.pending == 0:
                break
            await asyncio.sleep(0.02)
        assert conn.pending == 0 and not conn.paused  # resumed below half the limit
        await c.close()
    finally:
        release.set()
        await gw.stop()

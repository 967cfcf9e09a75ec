"""The gateway's batch decode skips only the warnings (session 5, "gwloop").

``gwbatch.decode_uploads`` passes ``digit_warnings=False, header_warnings=False``: the load
generator's values have more digits than the code table's ``Nn.m`` format (e.g.
``a01013-Avg=-0.3``), so the full decode writes a warning for every frame (and an MN warning
for MNs with letters); the gateway keeps no warnings. Verdicts, header columns and the value
table must be those of the full decode.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from lantian.hj212 import gwbatch
from lantian.hj212.columnar import decode_batch
from lantian.hj212.loadgen import make_packets, mn_of


def test_gateway_decode_equals_the_full_decode_without_digit_warnings():
    base = dt.datetime(2030, 1, 1)
    frames = [make_packets(mn_of("8888" if i % 2 else "LTBENCH", i), "123456", "2051",
                           [base])[0].rstrip(b"\r\n") for i in range(40)]
    frames.append(frames[0][:-4] + b"0000")  # a wrong CRC: the same verdict both ways
    full = decode_batch(frames, strict=False, number_text=False)
    fast = gwbatch.decode_uploads(frames)
    assert any("more digits" in w for ws in full.warnings for w in ws)  # the case at hand
    assert any("MN" in w for ws in full.warnings for w in ws)  # letters in the MN: warned
    assert fast.warnings[:40] == [()] * 40  # no warnings (the bad-CRC frame: parser's kept)
    assert fast.ok.tolist() == full.ok.tolist() and fast.crc_ok.tolist() == full.crc_ok.tolist()
    assert fast.crc_ok.tolist() == [True] * 40 + [False]
    assert fast.error == full.error
    for name, col in full.columns.items():
        assert fast.columns[name] == col, name
    for arr in ("item_packet", "item_code", "item_suffix", "item_value"):
        np.testing.assert_array_equal(getattr(fast, arr), getattr(full, arr))
    assert fast.item_text.tolist() == full.item_text.tolist()

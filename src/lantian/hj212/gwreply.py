"""The gateway's 9014 data replies for a whole committed batch at once.

HJ 212-2017 Appendix C: an upload with the A bit set is answered with
``QN=<upload's QN>;ST=91;CN=9014;PW=…;MN=…;Flag=4;CP=&&&&`` (Flag 8 for HJ 212-2025,
reference/hj212.md §13, unverified). For 2017/2025 uploads the reply segments are written
from one template and their CRCs computed together in one compiled pass
(:func:`lantian.hj212.scan.crc16_segments`; until session 5 ``bulk.crc16_many``, whose
≈ 200 µs per call, whatever the batch size, was most of an open-loop batch's reply cost);
HJ/T 212-2005 replies (QN and CN inside CP, a new header QN from the platform clock) and
anything unusual go through the codec's :func:`~lantian.hj212.builder.build_data_reply`.
Each reply is byte for byte what ``build_data_reply`` writes (tested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lantian.hj212.builder import DEFAULT_FLAG, build_data_reply
from lantian.hj212.scan import crc16_segments

__all__ = ["data_replies"]

_MAX_SEGMENT = 9999


_TAIL = {v: f";Flag={DEFAULT_FLAG[v]};CP=&&&&" for v in ("2017", "2025")}
"""The reply segment after the MN, per version written from the template (session 9: one
f-string per reply, ≈ 0.3 µs, against ≈ 0.45 with the version test and Flag lookup)."""


def _segment(pkt: Any) -> bytes | None:
    """Reply data segment of a 2017/2025 upload, or None when the codec must write it."""
    tail = _TAIL.get(pkt.version or "2017")
    if tail is None:
        return None
    qn = pkt.qn
    text = (f"ST=91;CN=9014;PW={pkt.pw or ''};MN={pkt.mn or ''}{tail}" if qn is None else
            f"QN={qn};ST=91;CN=9014;PW={pkt.pw or ''};MN={pkt.mn or ''}{tail}")
    if not text.isascii() or len(text) > _MAX_SEGMENT:
        return None
    return text.encode("ascii")


def data_replies(packets: Sequence[Any], now: dt.datetime) -> list[bytes]:
    """Framed 9014 replies (with CRLF) to ``packets``, in order.

    Parameters
    ----------
    packets : sequence
        Decoded uploads (:class:`lantian.hj212.Packet` or the batch path's ``Head``): the
        attributes ``qn pw mn cn version pno pnum`` are read.
    now : datetime
        Platform clock (China Standard Time), used for HJ/T 212-2005 reply QNs only.

    """
    segs = [_segment(p) for p in packets]
    fast = [s for s in segs if s is not None]
    crcs = crc16_segments(fast).tolist() if fast else []
    if len(fast) == len(segs):  # every reply from the template (the usual batch)
        return [b"##%04d%s%04X\r\n" % (len(s), s, c) for s, c in zip(fast, crcs, strict=True)]
    out: list[bytes] = []
    k = 0
    for p, s in zip(packets, segs, strict=True):
        if s is None:
            out.append(bytes(build_data_reply(p, now=now)))
            continue
        out.append(b"##%04d%s%04X\r\n" % (len(s), s, crcs[k]))
        k += 1
    return out

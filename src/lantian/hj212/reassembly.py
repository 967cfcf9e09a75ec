"""Join split messages (PNUM/PNO subpackets) into one logical packet.

HJ 212-2017 §6.3.3: a message longer than the data-segment limit is sent as PNUM parts
numbered PNO 1…PNUM, with the D bit of Flag set; each part has its own QN and is answered
on its own (Appendix C.50). Parts of one message are grouped by (MN, CN, DataTime), or
(MN, CN, QN) when a part has no DataTime. Memory is bounded by ``max_pending`` messages and
incomplete messages expire after ``timeout`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import replace

from lantian.hj212.packet import Packet

__all__ = ["Reassembler", "join_parts"]

Key = tuple[str | None, str | None, str | None]


def join_parts(parts: list[Packet]) -> Packet:
    """Join the parts of one message (in PNO order) into one packet.

    Values are merged code by code (later parts add suffixes), params are merged, ``cp``
    concatenates the parts' groups (the DataTime group once), ``raw`` joins the part frames
    with CRLF, ``pno`` is ``None`` and ``pnum`` the part count as sent.
    """
    parts = sorted(parts, key=lambda p: int(p.pno or 0))
    first = parts[0]
    values: dict[str, dict[str, float | str]] = {}
    params: dict[str, str] = {}
    groups = list(first.cp)
    warnings = list(first.warnings)
    for i, p in enumerate(parts):
        for code, fields in p.values.items():
            values.setdefault(code, {}).update(fields)
        params.update(p.params)
        if i:
            groups.extend(g for g in p.cp if g[0][0] != "DataTime")
            warnings.extend(p.warnings)
    return replace(
        first, raw=b"\r\n".join(p.raw for p in parts), pno=None, values=values, params=params,
        cp=tuple(groups), warnings=tuple(dict.fromkeys(warnings)),
        crc_ok=all(p.crc_ok for p in parts),
        crc_variant=first.crc_variant if all(p.crc_variant == first.crc_variant
                                             for p in parts) else None,
    )


class Reassembler:
    """Collect subpackets until a message is complete.

    Parameters
    ----------
    max_pending : int
        Incomplete messages kept at most; the oldest is dropped beyond it.
    timeout : float
        Seconds after its first part an incomplete message is dropped [s].

    """

    def __init__(self, max_pending: int = 1024, timeout: float = 600.0) -> None:
        self.max_pending = max_pending
        self.timeout = timeout
        self._pending: dict[Key, tuple[float, dict[int, Packet]]] = {}
        self.dropped: list[list[Packet]] = []

    def __len__(self) -> int:
        return len(self._pending)

    @staticmethod
    def key(packet: Packet) -> Key:
        """Message key of a part: (MN, CN, DataTime or QN)."""
        return packet.mn, packet.cn, packet.data_time or packet.qn

    def add(self, packet: Packet, now: float | None = None) -> Packet | None:
        """Add a packet; return the whole message when it is complete, else ``None``.

        A packet without PNUM/PNO is returned at once. A repeated PNO replaces the earlier
        part (re-transmission). ``now`` is a monotonic time [s] (default
        :func:`time.monotonic`).
        """
        if packet.pnum is None or packet.pno is None:
            return packet
        t = time.monotonic() if now is None else now
        self.expire(t)
        try:
            pnum, pno = int(packet.pnum), int(packet.pno)
        except ValueError:
            return packet
        if pnum <= 1:
            return replace(packet, pno=None)
        k = self.key(packet)
        started, parts = self._pending.get(k, (t, {}))
        parts[pno] = packet
        if len(parts) >= pnum and all(i in parts for i in range(1, pnum + 1)):
            self._pending.pop(k, None)
            return join_parts([parts[i] for i in range(1, pnum + 1)])
        self._pending[k] = (started, parts)
        while len(self._pending) > self.max_pending:
            oldest = next(iter(self._pending))
            self.dropped.append(list(self._pending.pop(oldest)[1].values()))
        return None

    def expire(self, now: float | None = None) -> list[list[Packet]]:
        """Drop messages older than ``timeout``; return their parts (also kept in ``dropped``)."""
        t = time.monotonic() if now is None else now
        old = [k for k, (started, _) in self._pending.items() if t - started > self.timeout]
        gone = [list(self._pending.pop(k)[1].values()) for k in old]
        self.dropped.extend(gone)
        return gone

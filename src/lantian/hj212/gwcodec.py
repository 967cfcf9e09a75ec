"""The codec names the gateway and the simulator use, in one place.

The gateway never parses by hand: framing, parsing and building come from the codec
(:mod:`lantian.hj212`); this module only adds the platform clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from lantian.errors import PacketError
from lantian.hj212.builder import build_data_reply, build_packet, build_request
from lantian.hj212.framer import FrameError, Framer
from lantian.hj212.parser import parse_packet
from lantian.hj212.times import data_time_to_datetime

__all__ = [
    "CST",
    "FrameError",
    "Framer",
    "PacketError",
    "build_data_reply",
    "build_packet",
    "build_request",
    "data_time_to_datetime",
    "now_cst",
    "parse_packet",
]

CST = ZoneInfo("Asia/Shanghai")


def now_cst() -> dt.datetime:
    """Platform clock as China Standard Time wall-clock (naive ``datetime``)."""
    return dt.datetime.now(CST).replace(tzinfo=None)

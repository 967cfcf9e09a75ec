"""HJ 212 codec: frames of HJ/T 212-2005, HJ 212-2017 and HJ 212-2025 (数据传输标准).

The codec never touches sockets: :class:`Framer` cuts a byte stream into frames,
:func:`parse_packet` decodes one frame into a :class:`Packet`, :func:`build_packet` and the
reply builders write frames, :class:`Reassembler` joins split messages, and
:mod:`lantian.hj212.bulk` (``decode_lines``, Packet objects) and
:mod:`lantian.hj212.columnar` (``decode_batch``, columns) decode many packets at once for
imports. See ``docs/hj212.md``.
"""

from __future__ import annotations

from lantian.hj212.builder import (
    build_data_reply,
    build_packet,
    build_request,
    format_number,
    frame_segment,
    rebuild_packet,
)
from lantian.hj212.crc import crc16_hj212, crc16_modbus
from lantian.hj212.framer import FrameError, Framer
from lantian.hj212.packet import Packet, PacketDecodeError
from lantian.hj212.parser import parse_packet
from lantian.hj212.reassembly import Reassembler, join_parts
from lantian.hj212.times import data_time_to_datetime

__all__ = [
    "FrameError",
    "Framer",
    "Packet",
    "PacketDecodeError",
    "Reassembler",
    "build_data_reply",
    "build_packet",
    "build_request",
    "crc16_hj212",
    "crc16_modbus",
    "data_time_to_datetime",
    "format_number",
    "frame_segment",
    "join_parts",
    "parse_packet",
    "rebuild_packet",
]

"""``lantian hj212``: check HJ 212 packets (数据包校验).

``lantian hj212 check [FILE|-]`` reads one packet per line and prints one JSON object per
line on stdout (JSON Lines). Contract (issue 2): keys ``ok``, ``crc_ok``, ``error``,
``version``, ``qn``, ``st``, ``cn``, ``pw``, ``mn``, ``flag``, ``data_time``, ``values``;
header fields are strings exactly as sent, values numbers where numeric.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lantian.commands._common import echo_err, emit_json, fail
from lantian.errors import ConfigurationError, PacketError
from lantian.hj212.packet import Packet
from lantian.hj212.parser import parse_packet

__all__ = ["check_lines", "register", "result_object", "split_input"]

app = typer.Typer(help="HJ 212 packets: check and decode (HJ 212 数据包).", no_args_is_help=True)

_BATCH = 20_000


def split_input(data: bytes) -> list[bytes]:
    """Cut input into packet lines.

    Lines end at LF only; a trailing CR and anything after a TAB are ignored (so
    ``vectors.tsv`` can be fed directly). A final empty line is dropped.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for ln in lines:
        tab = ln.find(b"\t")
        if tab >= 0:
            ln = ln[:tab]
        if ln.endswith(b"\r"):
            ln = ln[:-1]
        out.append(ln)
    return out


def result_object(result: Packet | PacketError, *, warnings: bool = False) -> dict[str, Any]:
    """Return the JSON object of one line: a packet, or an error with what could be read."""
    p = result if isinstance(result, Packet) else getattr(result, "partial", None)
    obj: dict[str, Any] = {
        "ok": isinstance(result, Packet),
        "crc_ok": bool(p.crc_ok) if p is not None else False,
        "error": None if isinstance(result, Packet) else str(result),
        "version": p.version if p is not None else None,
    }
    for key in ("qn", "st", "cn", "pw", "mn", "flag", "data_time"):
        obj[key] = getattr(p, key) if p is not None else None
    obj["values"] = p.values if p is not None else {}
    if warnings:
        obj["warnings"] = list(p.warnings) if p is not None else []
    return obj


def check_lines(lines: list[bytes], *, strict: bool, encoding: str) -> list[Packet | PacketError]:
    """Decode lines (bulk decoder for UTF-8, per-line parser for other encodings)."""
    from lantian.hj212.bulk import decode_lines

    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        return decode_lines(lines, strict=strict)
    out: list[Packet | PacketError] = []
    for ln in lines:
        try:
            out.append(parse_packet(ln, strict=strict, encoding=encoding))
        except PacketError as exc:
            out.append(exc)
    return out


@app.command("check")
def check(
    file: Annotated[str, typer.Argument(help="Packet file, one packet per line; '-' = stdin.")]
    = "-",
    lenient: Annotated[bool, typer.Option(
        "--lenient", help="Lenient: accept Modbus CRC variants; grammar and length problems "
                          "become warnings.")] = False,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="Character set of the data segment: utf-8 (standard) or gbk.")]
    = "utf-8",
    show_warnings: Annotated[bool, typer.Option(
        "--warnings", help="Add a 'warnings' list to each JSON object.")] = False,
) -> None:
    """Check HJ 212 packets, one per line, and print one JSON object per line on stdout.

    Lines end at LF; a trailing CR and anything after a TAB are ignored. Strict by default
    (syntax, framing, length and CRC; not which codes a CN may carry). Each object has ok,
    crc_ok, error (byte offset, field and reason), version, qn, st, cn, pw, mn, flag,
    data_time (as sent, China Standard Time) and values.

    Exit code: 0 when the input was read, whatever the packets' verdicts (bad packets give
    "ok": false); 1 when the input cannot be read or an option is wrong.
    """
    try:
        "".encode(encoding)
    except LookupError:
        fail(f"unknown encoding {encoding!r}")
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    lines = split_input(data)
    n_ok = 0
    for lo in range(0, len(lines), _BATCH):
        try:
            results = check_lines(lines[lo:lo + _BATCH], strict=not lenient, encoding=encoding)
        except ConfigurationError as exc:
            fail(exc)
        for r in results:
            n_ok += isinstance(r, Packet)
            emit_json(result_object(r, warnings=show_warnings))
    sys.stdout.flush()
    echo_err(f"{len(lines)} lines, {n_ok} ok, {len(lines) - n_ok} rejected")


def register(root: typer.Typer) -> None:
    """Attach ``lantian hj212`` to the root command."""
    root.add_typer(app, name="hj212")


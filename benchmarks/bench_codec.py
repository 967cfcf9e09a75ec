"""Codec throughput on the shared simulator log (run by hand; results go to RESULTS.md).

    .venv/bin/python benchmarks/bench_codec.py [--repeat 7] [--copies 10]

Measures, on the same packets in the same run, packets per second of CPU time (one core):

* ``split_walk``   plain ``bytes.split`` walk of header and CP, no CRC, no checks (baseline)
* ``crc_loop``     pure-Python byte loop of the HJ 212 CRC (the standard's bitwise form)
* ``crc_table``    :func:`crc16_hj212` (8-bit state table loop), CRC only
* ``crc_numpy``    :func:`crc16_many`, CRC only, vectorised across packets
* ``parse_packet`` full strict decode, one packet at a time
* ``decode_lines`` bulk full strict decode with CRC → Packet objects
* ``decode_batch`` bulk full strict decode with CRC → columns (header lists + long values)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lantian.errors import PacketError  # noqa: E402
from lantian.hj212 import crc16_hj212, parse_packet  # noqa: E402
from lantian.hj212.bulk import crc16_many, decode_lines  # noqa: E402
from lantian.hj212.columnar import decode_batch  # noqa: E402


def split_walk(lines):
    out = []
    for ln in lines:
        seg = ln[6:-4]
        head, _, cp = seg.partition(b";CP=&&")
        hdr = dict(kv.split(b"=", 1) for kv in head.split(b";"))
        vals = {}
        body = cp[:-2]
        if body:
            for grp in body.split(b";"):
                for it in grp.split(b","):
                    k, _, v = it.partition(b"=")
                    vals[k] = v
        out.append((hdr, vals))
    return out


def crc_loop(lines):
    out = []
    for ln in lines:
        reg = 0xFFFF
        for b in ln[6:-4]:
            reg = (reg >> 8) ^ b
            for _ in range(8):
                reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        out.append(reg)
    return out


def crc_table(lines):
    return [crc16_hj212(ln[6:-4]) for ln in lines]


def crc_numpy(lines):
    return crc16_many([ln[6:-4] for ln in lines])


def parse_each(lines):
    out = []
    for ln in lines:
        try:
            out.append(parse_packet(ln))
        except PacketError as exc:
            out.append(exc)
    return out


def measure(fn, lines, repeat):
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        fn(lines)
        runs.append(len(lines) / (time.process_time() - t))
    return statistics.median(runs), min(runs), max(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--log", default=str(ROOT.parent / "shared" / "datasets" / "hj212-simulator-log"
                                         / "packets.txt"))
    args = ap.parse_args()
    base = Path(args.log).read_bytes().splitlines()
    lines = base * args.copies
    seg_bytes = sum(len(ln) - 10 for ln in base) / len(base)
    print(f"# {platform.python_version()} {platform.machine()} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.1f}; {len(base)} packets x {args.copies} = {len(lines)}, "
          f"mean segment {seg_bytes:.0f} bytes; packets/s of CPU time, median (min-max) of "
          f"{args.repeat}")
    cases = [("split_walk", split_walk), ("crc_loop", crc_loop), ("crc_table", crc_table),
             ("crc_numpy", crc_numpy), ("parse_packet", parse_each),
             ("decode_lines", decode_lines), ("decode_batch", decode_batch)]
    results = {}
    for name, fn in cases:  # every case on the same packets
        fn(lines[:100])
        results[name] = measure(fn, lines, args.repeat)
    ref = results["split_walk"][0]
    for name, (med, lo, hi) in results.items():
        print(f"{name:13s} {med:12,.0f}  ({lo:,.0f}-{hi:,.0f})  x{med / ref:.2f} of split_walk")


if __name__ == "__main__":
    main()

"""Codec throughput on the shared simulator log (run by hand; results go to RESULTS.md).

    flock /tmp/lantian-bench.lock .venv/bin/python benchmarks/bench_codec.py \
        [--repeat 7] [--copies 10] [--import-file /tmp/p100k.txt --import-lines 50000]

Measures, on the same packets in the same run, packets per second of CPU time (one core),
on the shared simulator log and (``--import-file``, a file written by ``bench_import.py``)
on the import benchmark's packets:

* ``split_walk``   plain ``bytes.split`` walk of header and CP, no CRC, no checks (baseline)
* ``crc_loop``     pure-Python byte loop of the HJ 212 CRC (the standard's bitwise form)
* ``crc_table``    :func:`crc16_hj212` (8-bit state table loop), CRC only
* ``crc_numpy``    :func:`crc16_many`, CRC only, vectorised across packets
* ``parse_packet`` full strict decode, one packet at a time
* ``decode_lines`` bulk full strict decode with CRC → Packet objects
* ``decode_batch`` bulk full strict decode with CRC → columns (header lists + long values),
  the compiled scanner (:mod:`lantian.hj212.scan`) since session 4
* ``decode_columns`` the import's decoder (``decode_batch`` without number texts and digit
  warnings, plus code ids): what ``lantian import packets`` runs per line
* ``old_batch`` / ``old_columns`` the same two functions of the session-3 columnar decoder
  (regex + Arrow + numpy, read from git at ``--baseline-rev``; skipped without git)

Compile time of the scanner is measured apart: ``--compile`` times, in fresh interpreters,
the first decode with an empty numba cache (cold) and with the cache filled (warm).
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
from lantian.hj212.columnar import decode_batch, decode_columns  # noqa: E402

BASELINE_REV = "2580103"  # the commit before the compiled scanner (session-3 decoder)


def baseline(rev: str, repo: str):
    """The session-3 ``columnar`` module, loaded from git (None if git cannot give it)."""
    import importlib.util
    import subprocess
    import tempfile

    try:
        src = subprocess.run(
            ["git", "-C", repo, "show", f"{rev}:src/lantian/hj212/columnar.py"],
            check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "columnar_session3.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location("columnar_session3", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["columnar_session3"] = mod
    spec.loader.exec_module(mod)
    return mod


def compile_times() -> None:
    """First decode in fresh interpreters: empty numba cache (cold), then filled (warm)."""
    import subprocess
    import tempfile

    code = ("import time; t = time.perf_counter(); import numba; t1 = time.perf_counter(); "
            "from lantian.hj212.scan import warm; warm(); t2 = time.perf_counter(); "
            "print(f'{t1 - t:.2f} {t2 - t1:.2f}')")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT / "src")}
        for label in ("cold", "warm", "warm"):
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            print(f"compile {label}: import numba {out[0]} s, first decode {out[1]} s "
                  f"(load={os.getloadavg()[0]:.1f})")


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
    ap.add_argument("--import-file", help="packets file of bench_import.py (e.g. /tmp/p100k.txt)")
    ap.add_argument("--import-lines", type=int, default=50_000)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    ap.add_argument("--baseline-repo", default=str(ROOT), help="git repository holding it")
    ap.add_argument("--compile", action="store_true", help="also time the scanner's compile")
    ap.add_argument("--only", help="comma-separated case names")
    args = ap.parse_args()
    if args.compile:
        compile_times()
    old = baseline(args.baseline_rev, args.baseline_repo)
    columns = lambda lines: decode_columns(lines)  # noqa: E731
    cases = [("split_walk", split_walk), ("crc_loop", crc_loop), ("crc_table", crc_table),
             ("crc_numpy", crc_numpy), ("parse_packet", parse_each),
             ("decode_lines", decode_lines), ("decode_batch", decode_batch),
             ("decode_columns", columns)]
    if old is not None:
        cases += [("old_batch", old.decode_batch), ("old_columns", old.decode_columns)]
    if args.only:
        keep = set(args.only.split(",")) | {"split_walk"}
        cases = [c for c in cases if c[0] in keep]
    data = [("simulator log", Path(args.log).read_bytes().splitlines() * args.copies)]
    if args.import_file:
        with open(args.import_file, "rb") as fh:
            head = [fh.readline().rstrip(b"\n") for _ in range(args.import_lines)]
        data.append((f"import data {args.import_file}", [ln for ln in head if ln]))
    for label, lines in data:
        seg_bytes = sum(len(ln) - 10 for ln in lines) / len(lines)
        print(f"# {label}: {platform.python_version()} {platform.machine()} "
              f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}; {len(lines)} packets, mean "
              f"segment {seg_bytes:.0f} bytes; packets/s of CPU time, median (min-max) of "
              f"{args.repeat}")
        results = {}
        for name, fn in cases:  # every case on the same packets
            if name in ("crc_loop", "parse_packet", "decode_lines") and len(lines) > 50_000:
                continue  # the slow pure-Python cases: the simulator log suffices
            fn(lines[:100])
            results[name] = measure(fn, lines, args.repeat)
        ref = results["split_walk"][0]
        for name, (med, lo, hi) in results.items():
            print(f"{name:14s} {med:12,.0f}  ({lo:,.0f}-{hi:,.0f})  x{med / ref:.2f} of split_walk"
                  f"  {1e6 / med:6.2f} us/packet")
        for new, prev in (("decode_batch", "old_batch"), ("decode_columns", "old_columns")):
            if new in results and prev in results:
                print(f"{new} / {prev}: x{results[new][0] / results[prev][0]:.2f}")
        print(f"# load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

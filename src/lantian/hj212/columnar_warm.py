"""Importing this module loads the compiled columnar decoder's machine code.

Imported by the forkserver of ``lantian import packets`` (named in
:attr:`lantian.hj212.columnar_lazy.LazyColumnDecoder.worker_modules`), before it forks the
decoding workers: numba loads a jitted function's machine code from its cache (or compiles
it, when the cache is empty or stale) on the function's first call in each process, ≈ 0.2 s
of CPU per process with a warm cache and 5–12 s without. Decoding one canonical frame here
does it once; the workers inherit the loaded code instead of each loading, or compiling, the
same functions. Frames off the compiled path still load what they need on first use.
"""

from __future__ import annotations

from lantian.hj212.builder import build_packet
from lantian.hj212.columnar import decode_columns

__all__ = ["SAMPLE"]

#: A canonical minute-data frame (HJ 212-2017, CN 2051) with numbers, a text flag and Cou.
SAMPLE = build_packet(
    st="31", cn="2051", pw="123456", mn="0100000000000000000000AB",
    data_time="20240101000000", qn="20240101000000000",
    values={"a21026": {"Avg": 18.4, "Min": 16.56, "Max": 20.24, "ZsAvg": 22.08, "Flag": "N"},
            "a00000": {"Avg": 152.3, "Cou": 9138.0, "Flag": "N"}},
)

decode_columns([SAMPLE])

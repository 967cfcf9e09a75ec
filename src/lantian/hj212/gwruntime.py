"""Process-wide Python runtime settings of ``lantian serve`` (``[runtime]`` in gateway.toml).

Python's cyclic garbage collector and the GIL's switch interval are properties of the whole
process, so they are set by ``lantian serve`` once the gateway has started (registry loaded,
journal replayed, listening), never by :class:`~lantian.hj212.gateway.Gateway` itself
(tests and embedders run gateways inside processes of their own).

Why (session 6, benchmarks/RESULTS.md "Session 6 (engineer gwloop)"): at 10,000 closed-loop
connections every packet in flight (frame, header, queue tuples) outlives a few young-
generation collections and is promoted to the oldest generation, so CPython's default
thresholds ``(700, 10, 10)`` ran a *full* collection every ≈ 1.3 s, each ≈ 50-100 ms of the
event loop's time over ≈ 250,000 tracked objects (the connections, the registry, every
module): ≈ 13 % of the loop's CPU, and a 50-100 ms stall each time. ``gc.freeze()`` after
start-up moves the objects that live as long as the process (modules, registry, settings,
DuckDB wrappers) out of every later collection, and a larger third threshold makes full
collections rare (each one now also scans fewer objects). Reference cycles are still
collected: young collections are unchanged, and full collections still run, only less often
(about once a minute at full load). Objects frozen at start-up that later become cyclic
garbage are kept until the process ends; they are start-up objects, created once.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass

__all__ = ["RuntimeSettings", "apply_runtime"]


@dataclass(frozen=True)
class RuntimeSettings:
    """``[runtime]`` of gateway.toml; None leaves Python's own value.

    gc_freeze : freeze the objects alive once the gateway has started (``gc.freeze``)
    gc_threshold : ``gc.set_threshold`` arguments (allocations, young collections, …)
    switch_interval_s : ``sys.setswitchinterval`` [s] (the GIL hand-off interval)
    """

    gc_freeze: bool = False
    gc_threshold: tuple[int, ...] | None = None
    switch_interval_s: float | None = None


def apply_runtime(rt: RuntimeSettings) -> dict[str, int]:
    """Apply ``rt`` to this process; return counters for the gateway's status.

    ``gc_frozen_objects``: objects moved to the permanent generation (0 without freeze).
    Call once, after start-up work: a freeze keeps whatever is alive at that moment.
    """
    frozen = 0
    if rt.gc_freeze:
        gc.collect()  # no start-up garbage frozen in
        gc.freeze()
        frozen = gc.get_freeze_count()
    if rt.gc_threshold is not None:
        gc.set_threshold(*rt.gc_threshold)
    if rt.switch_interval_s is not None:
        sys.setswitchinterval(rt.switch_interval_s)
    return {"gc_frozen_objects": frozen}

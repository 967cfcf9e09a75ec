"""The monthly job: the engine's assessment and remote quality control on one scan.

A regulator's month runs the ULE assessment (``lantian assess``, HJ 75-2017 valid hours)
and then quality control (``lantian qc``). Both start from per-hour or per-block sums and
counts of the same minutes, which are additive over blocks inside one clock hour, so
:func:`shared_blocks` reads the month's minutes once into one row per (point, 30-minute
block) holding the partials of both (:func:`lantian.engine.hours.block_partials` and
:func:`lantian.engine.quality.blocks.minute_blocks`); :func:`assess_and_detect` then gives
the engine's monthly verdict (:func:`lantian.engine.assess.assess_month` with ``blocks``)
and every detector's events (:func:`lantian.engine.quality.run.detector_events` with
``blocks``) from that table. The verdicts equal the engine's own up to the order of
floating-point additions of the hourly means, and the events equal ``lantian qc``'s
(``tests/test_qc_shared.py``). Nothing here executes a query. Times are China Standard Time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis.expr.types as ir

from lantian.engine.assess import assess_month, month_keys
from lantian.engine.hours import AUX_KEYS, column_of
from lantian.engine.quality.blocks import minute_blocks
from lantian.engine.quality.run import DETECTORS, detector_events
from lantian.engine.quality.thresholds import Thresholds

__all__ = ["assess_and_detect", "shared_blocks"]


def shared_blocks(minute: ir.Table, keys: Sequence[str], engine_keys: Sequence[str],
                  th: Thresholds) -> ir.Table:
    """One row per (mn, block) with the partials of the engine and of quality control.

    ``minute``: ``flue_minute`` rows of the month; ``keys``: the pollutants qc screens;
    ``engine_keys``: the pollutants the assessment aggregates
    (:func:`lantian.engine.assess.month_keys`). Reads only the columns either uses.
    """
    wanted = {"mn", "ts"}
    for k in (*keys, *engine_keys, *AUX_KEYS):
        wanted |= {column_of(k), f"{k}_flag", f"{k}_zs"}
    narrow = minute.select(*[c for c in minute.columns if c in wanted or c.endswith("_flag")])
    return minute_blocks(narrow, keys, th, engine_keys=engine_keys)


def assess_and_detect(
    con: Any,
    inputs: dict[str, Any],
    *,
    detectors: Sequence[str] = DETECTORS,
    materialize: Callable[[ir.Table], ir.Table] | None = None,
    blocks: ir.Table | None = None,
) -> tuple[ir.Table, dict[str, ir.Table]]:
    """Return (monthly verdicts, events per detector) of one month from one minute scan.

    ``con`` is the engine backend; ``inputs`` the keyword arguments of
    :func:`~lantian.engine.quality.run.detector_events` as
    :func:`~lantian.engine.quality.inputs.read_inputs` gives them (``minute``, ``month``,
    ``keys``, ``thresholds``, ...). ``materialize`` (e.g. ``lambda t: t.cache()``) keeps the
    shared block table; without it the block aggregation is inlined in both expressions
    (correct, but the minutes are then read twice). ``blocks``: :func:`shared_blocks` of the
    month already built (and kept) by the caller.
    """
    th: Thresholds = inputs["thresholds"]
    keep = materialize or (lambda x: x)
    minute = inputs["minute"]
    if blocks is None:
        blocks = keep(shared_blocks(minute, inputs["keys"], month_keys(minute), th))
    verdicts = assess_month(con, inputs["month"], blocks=blocks)
    events = detector_events(**inputs, detectors=detectors, materialize=materialize,
                             blocks=blocks)
    return verdicts, events

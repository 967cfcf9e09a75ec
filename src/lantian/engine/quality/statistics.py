"""Statistical screening of hourly values: sudden ``level_shift`` and isolated ``spike``.

Both work on hourly means corrected to the reference O2 of the limit, over valid
running hours only (start-ups, stops and invalid hours left out) with
rolling medians, as the US EIA / Open Grid Emissions hourly screening does. Windows count
running hours, so a 24-hour window spans a whole daily load cycle and ordinary daily swings
stay inside it. ``spike`` compares an hour with the rolling median and IQR around it;
``level_shift`` finds change points of a two-window median test on the log scale and
compares each segment with the rest of the month (qcdetect, session 4). The detectors live
in :mod:`~lantian.engine.quality.spikes` and :mod:`~lantian.engine.quality.shifts` (split in
session 5) and are re-exported here; this module builds their input, :func:`hour_long`.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from lantian.engine.hours import column_of
from lantian.engine.oxygen import reference_concentration
from lantian.engine.quality.shifts import level_shift, shift_screen
from lantian.engine.quality.spikes import (
    minute_steps,
    spike,
    spike_candidates,
    spike_span_hours,
    spike_windows,
)

__all__ = ["hour_long", "level_shift", "minute_steps", "shift_screen", "spike",
           "spike_candidates", "spike_span_hours", "spike_windows"]

_KEYS = ["mn", "pollutant"]


def hour_long(hours: ir.Table, keys: Sequence[str], limits: ir.Table | None = None) -> ir.Table:
    """Stack valid running hours per pollutant: (mn, ts, pollutant, value, idx).

    With ``limits`` (mn, pollutant, o2_ref_pct) the value is corrected to the reference O2
    of the limit (HJ 75-2017), which air dilution does not change, so a dilution episode is
    reported by the dilution detector and not again as a level shift. ``idx`` numbers the
    hours of each (mn, pollutant) in time order, so windows and runs count running hours
    whatever the clock gaps between them.
    """
    o2 = column_of("o2")
    parts = []
    for key in keys:
        col = column_of(key)
        if col not in hours.columns:
            continue
        parts.append(hours.filter(hours.running & hours[f"{key}_valid"]).select(
            "mn", "ts", pollutant=ibis.literal(key), value=hours[col].cast("float64"),
            o2=hours[o2]))
    t = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    if limits is not None:
        lim = limits.select(_lmn=limits.mn, _lpol=limits.pollutant, _ref=limits.o2_ref_pct)
        t = t.left_join(lim, [t.mn == lim._lmn, t.pollutant == lim._lpol])
        corrected = reference_concentration(t.value, t.o2, t._ref)
        t = t.select("mn", "ts", "pollutant",
                     value=ibis.ifelse(t.o2.isnull() & t._ref.notnull(), ibis.null("float64"),
                                       corrected))
        t = t.filter(t.value.notnull())
    else:
        t = t.drop("o2")
    w = ibis.window(group_by=_KEYS, order_by="ts")
    return t.mutate(idx=ibis.row_number().over(w))

"""Reference-oxygen conversion (基准含氧量折算), HJ 75-2017 / GB/T 16157.

``C_ref = C × (21 − O2_ref) / (21 − O2)``

applied by the platform to the hourly mean of the measured concentration with the hourly
mean of the measured O2 (dry basis), only where the catalogue gives a reference O2 for the
limit. Values the logger sent as ``Zs*`` are kept for comparison and never used for a
verdict. Nothing is rounded here (round only for display).
"""

from __future__ import annotations

import math
from typing import overload

import ibis
import ibis.expr.types as ir

__all__ = ["reference_concentration"]


@overload
def reference_concentration(c: float, o2: float, o2_ref: float | None) -> float: ...


@overload
def reference_concentration(
    c: ir.NumericValue, o2: ir.NumericValue, o2_ref: float | ir.NumericValue | None
) -> ir.NumericValue: ...


def reference_concentration(c, o2, o2_ref):  # type: ignore[no-untyped-def]
    """Concentration at the reference O2 [mg/m³].

    Parameters
    ----------
    c
        Measured concentration, dry standard state [mg/m³] (float or Ibis column).
    o2
        Measured O2, dry basis [%] (float or Ibis column).
    o2_ref
        Reference O2 of the limit [%]; ``None`` (or a null column value) means the limit is
        judged on the measured concentration, which is then returned unchanged.

    Returns
    -------
    float or Ibis column
        ``c × (21 − o2_ref) / (21 − o2)``. Where ``o2 ≥ 21`` % (no combustion gas, an
        impossible reading) the result is undefined: NaN for floats, null for columns.

    References
    ----------
    HJ 75-2017 (折算浓度); reference notes §1.6.

    """
    if isinstance(c, ir.Value) or isinstance(o2, ir.Value) or isinstance(o2_ref, ir.Value):
        c_e, o2_e = ibis.literal(c) if not isinstance(c, ir.Value) else c, o2
        if not isinstance(o2_e, ir.Value):
            o2_e = ibis.literal(float(o2))
        if o2_ref is None:
            return c_e
        ref = o2_ref if isinstance(o2_ref, ir.Value) else ibis.literal(float(o2_ref))
        converted = c_e * (21.0 - ref) / (21.0 - o2_e)
        return ibis.cases(
            (ref.isnull(), c_e),
            (o2_e < 21.0, converted),
            else_=ibis.null("float64"),
        )
    if o2_ref is None or (isinstance(o2_ref, float) and math.isnan(o2_ref)):
        return float(c)
    if o2 >= 21.0:
        return math.nan
    return float(c) * (21.0 - float(o2_ref)) / (21.0 - float(o2))

"""The clean-transport expression gives the same result on PySpark as on DuckDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from lantian.ledger.transport import clean_transport_month

pytestmark = pytest.mark.spark

GATE = pa.table({
    "enterprise_id": pa.array([1, 1, 1, 2, 2], pa.int64()),
    "ts": pa.array([dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 30, 23), dt.datetime(2025, 7, 1),
                    dt.datetime(2025, 6, 3), dt.datetime(2025, 6, 4)], pa.timestamp("us")),
    "mode": ["rail", "road", "road", "road", "belt"],
    "tonnes": pa.array([Decimal("80"), Decimal("20"), Decimal("5"), Decimal("30"),
                        Decimal("10")], pa.decimal128(18, 3)),
    "emission_stage": [None, "China V", "China V", "NEV", None],
})
ENT = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["甲", "乙"]})


def _rows(backend) -> list[dict]:
    gate = backend.create_table("gate_record_t", GATE, overwrite=True)
    ent = backend.create_table("enterprise_t", ENT, overwrite=True)
    expr = clean_transport_month(gate, ent, "2025-06")
    return sorted(backend.to_pyarrow(expr).to_pylist(), key=lambda r: r["enterprise"])


def test_same_on_spark_and_duckdb(spark_ibis) -> None:
    duck = _rows(ibis.duckdb.connect())
    spark = _rows(spark_ibis)
    assert duck == spark
    # 甲: 80 / (80 + 20) = 0.8 passes despite the China V truck; 乙: 10 / 40, all trucks NEV
    got = {r["enterprise"]: (r["clean_ratio"], r["non_compliant_road_trips"], r["pass"])
           for r in duck}
    assert got == {"甲": (0.8, 1, True), "乙": (0.25, 0, True)}

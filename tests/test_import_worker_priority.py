"""The import's decoding workers run at a lower priority than the importing process.

The importing process feeds DuckDB's serial commit chain and bounds the import; niced
workers only take the time it leaves (``store.blocks.worker_init``, measured in
benchmarks/RESULTS.md, session 5).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from lantian.hj212.columnar import decode_columns
from lantian.store import bulkstart
from lantian.store.blocks import WORKER_NICE, worker_init


def test_workers_of_the_import_pool_are_niced_and_the_importer_is_not():
    before = os.nice(0)
    ctx = bulkstart.context(decode_columns)
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=worker_init) as pool:
        child = pool.submit(os.nice, 0).result(timeout=60)
    assert os.nice(0) == before  # the importing process keeps its priority
    assert child == min(before + WORKER_NICE, 19)

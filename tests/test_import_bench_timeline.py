"""``bench_import.py --timeline``: where an import's cores go, from sampled thread states.

Session 11 (issue 2): the share of core time the import leaves idle at start-up, in the
middle and in its tail is read from the count of its runnable threads per sample; on a
2-core machine one runnable thread leaves half the cores idle, none all of them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_import.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_import_t", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_idle_shares_by_phase(bench, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    tl = bench._Timeline(os.getpid())
    # (t, runnable threads, of them workers): start-up with the CLI alone, a middle with
    # both cores busy but one sample with one thread, a tail with the writer alone
    tl.samples = [(0.0, 1, 0), (0.5, 0, 0), (1.0, 2, 2), (1.5, 3, 2), (2.0, 1, 1),
                  (2.5, 2, 1), (3.0, 1, 0), (3.5, 1, 0)]
    tl.cpu = {("cli_main", 1): 1.0, ("cli_threads", 2): 2.0, ("cli_threads", 3): 0.5,
              ("workers", 4): 3.0}
    s = tl.summary(4.0)
    assert s["start_s"] == 1.0
    assert s["start_idle_core_share"] == 0.75  # (1 + 2) / (2 × 2)
    assert s["middle_idle_core_share"] == 0.125  # (0 + 0 + 1 + 0) / (2 × 4)
    assert s["tail_s"] == 1.5
    assert s["tail_idle_core_share"] == 0.5
    assert s["idle_core_share"] == 0.375  # (1 + 2 + 0 + 0 + 1 + 0 + 1 + 1) / (2 × 8)
    assert s["runnable_share"] == {"0": 0.125, "1": 0.5, "2": 0.375}
    assert s["cpu_s_by_thread_class"] == {"cli_main": 1.0, "cli_threads": 2.5, "workers": 3.0}


def test_sampling_this_process_counts_its_threads(bench):
    tl = bench._Timeline(os.getpid())
    tl.sample(0.0)
    assert len(tl.samples) == 1
    assert tl.samples[0][1] >= 1  # this thread is running while it reads /proc
    assert ("cli_main", os.getpid()) in tl.cpu

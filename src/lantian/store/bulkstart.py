"""The worker processes' server of a parallel import, importable before the store is.

:mod:`lantian.store.bulkpool` decodes in processes forked from one clean ``forkserver``
process that imports the workers' modules once. Starting that server is the first thing an
import does; this module needs only the standard library, so ``lantian import packets`` can
start the server before it imports the store (pyarrow, DuckDB's wrappers: ≈ 0.2 s of CPU)
and opens the database, and the server's imports (pandas, pyarrow, numba, the compiled
decoder: ≈ 0.7 s of CPU) run beside them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

__all__ = ["context", "warm_up"]


def context(decode: Callable[..., Any]) -> multiprocessing.context.BaseContext:
    """Return the ``forkserver`` context, with the worker's modules to import once.

    One clean server process imports :mod:`lantian.store.blocks`, pandas (which pyarrow
    imports on its first conversion from numpy), the decoder's module and the modules it
    names in ``worker_modules`` (:class:`lantian.hj212.columnar_lazy.LazyColumnDecoder`:
    the decoder itself, which this process never imports, and the module that loads its
    compiled code); every worker is forked from it (no import per worker, no state of this
    process).
    """
    ctx = multiprocessing.get_context("forkserver")
    modules = list(getattr(decode, "worker_modules", ()))  # a LazyColumnDecoder's
    module = getattr(getattr(decode, "func", decode), "__module__", None)
    # pyarrow imports pandas on its first conversion from numpy (≈ 0.3 s CPU per process)
    ctx.set_forkserver_preload(["lantian.store.blocks", "pandas", *modules,
                                *([module] if module else [])])
    return ctx


def warm_up(decode: Callable[..., Any]) -> None:
    """Start the forkserver now (it imports the worker's modules while the caller goes on).

    Optional: :func:`lantian.store.bulkpool.import_file_parallel` starts it when needed.
    Calling this first lets the server's imports overlap the caller's own start-up.
    """
    from multiprocessing import forkserver

    context(decode)
    forkserver.ensure_running()

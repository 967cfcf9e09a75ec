"""A handle on the columnar bulk decoder that imports it only when it decodes.

``lantian import packets`` decodes in worker processes; the importing process only pickles
the decoder to send it to them. :func:`lantian.hj212.columnar.column_decoder` is a
``functools.partial`` of :func:`~lantian.hj212.columnar.decode_columns`, and pickling it
imports :mod:`lantian.hj212.columnar`, which imports numba and maps llvmlite's LLVM (a
170-MB shared library, ≈ 130 MB of it read on import) into a process that never decodes.
:class:`LazyColumnDecoder` pickles as its class and ``strict`` alone; this module imports
only the standard library, and the decoder is imported on the first call (in the worker, or
here when the import runs without workers). Verdicts and values are those of
``decode_columns(lines, strict)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DECODER_MODULE", "WARM_MODULE", "LazyColumnDecoder"]

#: The module that holds the decoder (imported on the first call).
DECODER_MODULE = "lantian.hj212.columnar"

#: The module whose import loads the decoder's compiled code (for a forkserver's preload).
WARM_MODULE = "lantian.hj212.columnar_warm"


@dataclass(frozen=True, slots=True)
class LazyColumnDecoder:
    """``decode_columns(lines, strict=strict)``, importing the decoder on the first call.

    ``worker_modules`` names the modules a worker process needs for it, so a process pool
    can import them once before forking its workers
    (:func:`lantian.store.bulkstart.warm_up`).
    """

    strict: bool = True

    @property
    def worker_modules(self) -> tuple[str, ...]:
        """Modules to import in a worker before the first call.

        The decoder, and :mod:`lantian.hj212.columnar_warm`, whose import loads its
        compiled machine code (once in a forkserver, instead of once per forked worker).
        """
        return (DECODER_MODULE, WARM_MODULE)

    def __call__(self, lines: Sequence[bytes]) -> dict[str, Any]:
        """Decode ``lines`` (see :func:`lantian.hj212.columnar.decode_columns`)."""
        from lantian.hj212.columnar import decode_columns

        return decode_columns(lines, strict=self.strict)

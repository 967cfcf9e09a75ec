"""The registry of CP field names seen by the bulk decoders (one per process).

Every distinct field name (``a21026-Avg``, ``DataTime``, ``i12001-Info`` …) gets an integer id
on first sight, with what the decoders need to know about it: code and suffix, kind
(parameter, text field, numeric field, invalid, time parameter), the code table's ``Nn.m``
for the digit-count warning (HJ 212-2017 Annex) and integer ids of its code and suffix.
:meth:`Names.scan_tables` gives the same facts as numpy arrays plus an open-addressing hash
table of the names' bytes, for the compiled scanner (:mod:`lantian.hj212.scan`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lantian.catalog.codes import data_format
from lantian.hj212.cp import NAME_RE, SUFFIX_RE
from lantian.hj212.fastpath import DIGIT_SUFFIXES, TIME_PARAMS
from lantian.hj212.packet import STRING_SUFFIXES
from lantian.hj212.scan import name_hash

__all__ = ["NAMES", "Names", "ScanTables"]

PARAM, TEXT, NUMERIC, INVALID, TIME = 0, 1, 2, 3, 4
NO_FORMAT = 10**6
"""``fmt_n``/``fmt_m`` of names without a code-table format (never over)."""


@dataclass(frozen=True)
class ScanTables:
    """The registry as arrays for :func:`lantian.hj212.scan.scan_frames` (one snapshot)."""

    slots: npt.NDArray[np.int64]
    names: npt.NDArray[np.uint8]
    name_off: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    fmt_n: npt.NDArray[np.int64]
    fmt_m: npt.NDArray[np.int64]
    dt_id: int


class Names:
    """Facts about each distinct CP field name, looked up by integer id (grows as needed)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.full: list[str] = []  # name id -> the name as sent
        self.code: list[str] = []
        self.suffix: list[str] = []
        self.kind: list[int] = []
        self.fmt_n: list[int] = []
        self.fmt_m: list[int] = []
        self.code_ids: dict[str, int] = {}  # distinct codes and suffixes, numbered
        self.suffix_ids: dict[str, int] = {}
        self.code_id: list[int] = []  # name id -> code id, suffix id
        self.suffix_id: list[int] = []
        self._tables: ScanTables | None = None
        self._text: tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]] | None = None
        self._lock = threading.RLock()  # decoders may run in threads (the scan drops the GIL)

    def id_of(self, name: str) -> int:
        """Integer id of ``name``, registered on first sight."""
        i = self.ids.get(name)
        if i is None:
            with self._lock:
                if name not in self.ids:
                    self.add(name)
            i = self.ids[name]
        return i

    def add(self, name: str) -> None:
        """Register ``name`` (not registered yet); its id is published last."""
        code, dash, suffix = name.partition("-")
        fmt = None
        if not dash:
            kind = TIME if name in TIME_PARAMS else (PARAM if NAME_RE.match(name) else INVALID)
        elif NAME_RE.match(code) is None or SUFFIX_RE.match(suffix) is None:
            kind = INVALID
        elif suffix in STRING_SUFFIXES:
            kind = TEXT
        else:
            kind = NUMERIC
            fmt = data_format(code) if suffix in DIGIT_SUFFIXES else None
        new_id = len(self.code)
        self.full.append(name)
        self.code.append(code)
        self.suffix.append(suffix)
        self.kind.append(kind)
        self.fmt_n.append(fmt[0] if fmt else NO_FORMAT)
        self.fmt_m.append(fmt[1] if fmt else NO_FORMAT)
        self.code_id.append(self.code_ids.setdefault(code, len(self.code_ids)))
        self.suffix_id.append(self.suffix_ids.setdefault(suffix, len(self.suffix_ids)))
        self._tables = None
        self.ids[name] = new_id

    def tables_of_text(self) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        """Return code and suffix of every name id as object arrays (rebuilt after adds)."""
        with self._lock:
            if self._text is None or len(self._text[0]) != len(self.code):
                self._text = (np.array(self.code, dtype=object),
                              np.array(self.suffix, dtype=object))
            return self._text

    def scan_tables(self) -> ScanTables:
        """Return the registry as arrays (rebuilt only after names were added)."""
        with self._lock:
            return self._tables or self._build()

    def _build(self) -> ScanTables:
        raw = [nm.encode("utf-8") for nm in self.full]
        size = 64
        while size < 4 * len(raw):
            size *= 2
        slots = np.full(size, -1, dtype=np.int64)
        for i, b in enumerate(raw):
            if any(c >= 128 for c in b):  # never matched by ASCII bytes: skip
                continue
            k = name_hash(b) & (size - 1)
            while slots[k] >= 0:
                k = (k + 1) & (size - 1)
            slots[k] = i
        off = np.zeros(len(raw) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in raw], out=off[1:])
        self._tables = tables = ScanTables(
            slots=slots,
            names=np.frombuffer(b"".join(raw) or b"\0", dtype=np.uint8),
            name_off=off,
            kind=np.array(self.kind, dtype=np.int8),
            fmt_n=np.array(self.fmt_n, dtype=np.int64),
            fmt_m=np.array(self.fmt_m, dtype=np.int64),
            dt_id=self.ids.get("DataTime", -1),
        )
        return tables


NAMES = Names()
"""This process's registry (ids are per process)."""

"""The exception tree of Lantian.

Every error raised on purpose by Lantian derives from :class:`LantianError`; where a
built-in exception fits, the domain error subclasses it too, so callers can catch
``ValueError`` for bad input without knowing our names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CatalogError",
    "ConfigurationError",
    "DatabaseLockedError",
    "FieldIssue",
    "InputFileError",
    "LantianError",
    "LedgerRuleError",
    "NotFoundError",
    "PacketError",
    "StoreError",
]


class LantianError(Exception):
    """Base class of all errors raised deliberately by Lantian."""


@dataclass(frozen=True)
class FieldIssue:
    """One problem found in a packet: where (byte offset), which field, and why."""

    offset: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"byte {self.offset}" if self.offset is not None else "packet"
        what = f" field {self.field!r}" if self.field else ""
        return f"{where}{what}: {self.reason}"


class PacketError(LantianError, ValueError):
    """An HJ 212 packet could not be accepted.

    ``issues`` lists every problem found; the message names the first.
    """

    def __init__(self, issues: list[FieldIssue] | FieldIssue | str) -> None:
        if isinstance(issues, str):
            issues = [FieldIssue(None, None, issues)]
        elif isinstance(issues, FieldIssue):
            issues = [issues]
        self.issues: list[FieldIssue] = list(issues)
        super().__init__(str(self.issues[0]) if self.issues else "invalid packet")

    @property
    def offset(self) -> int | None:
        """Byte offset of the first problem, counted from the start of the frame."""
        return self.issues[0].offset if self.issues else None

    @property
    def field(self) -> str | None:
        """Field of the first problem."""
        return self.issues[0].field if self.issues else None

    @property
    def reason(self) -> str:
        """Reason of the first problem."""
        return self.issues[0].reason if self.issues else "invalid packet"


class CatalogError(LantianError, ValueError):
    """A catalogue data file is malformed (unknown field, overlapping periods, bad value)."""


class InputFileError(LantianError, ValueError):
    """An input file (CSV, Excel, packet log) is malformed; the message names row and column."""


class ConfigurationError(LantianError, ValueError):
    """A wrong parameter or setting was given."""


class LedgerRuleError(LantianError, ValueError):
    """A ledger entry breaks a rule (mark entered after its deadline, annual cap exceeded)."""


class NotFoundError(LantianError, LookupError):
    """A requested record does not exist."""


class StoreError(LantianError, RuntimeError):
    """The database could not be read or written."""


class DatabaseLockedError(StoreError):
    """Another process (usually ``lantian serve``) holds the DuckDB file for writing."""

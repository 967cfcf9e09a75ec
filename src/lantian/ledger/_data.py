"""Read the ledger rule tables kept under ``lantian/catalog/data`` (private helper)."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources
from pathlib import Path

from lantian.errors import CatalogError
from lantian.store.db import transaction  # re-exported: the ledgers' one transaction helper

__all__ = ["now_cst", "parse_date", "read_rule_csv", "transaction"]


def read_rule_csv(name: str, required: set[str], path: Path | None = None) -> list[dict[str, str]]:
    """Return the rows of catalogue file ``name`` (or of ``path``) as dicts of stripped text.

    Raises
    ------
    CatalogError
        When a required column is missing.

    """
    if path is None:
        text = resources.files("lantian.catalog").joinpath("data", name).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise CatalogError(f"{name}: missing column(s) {sorted(missing)}")
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def parse_date(text: str, where: str) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (empty = open end); ``where`` names the row in the error."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CatalogError(f"{where}: bad date {text!r}") from exc


def now_cst() -> dt.datetime:
    """Return the current China Standard Time wall-clock time (naive, whole seconds)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)

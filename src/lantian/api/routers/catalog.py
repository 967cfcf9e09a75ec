"""Catalogue rows (limits, code tables, thresholds) as stored in ``catalog/data``.

Every catalogue file is a CSV with its source document, clause, dates and confidence per row;
this router serves them unchanged to any logged-in user.
"""

from __future__ import annotations

import csv
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from lantian.api.deps import Db, User, require_principal
from lantian.api.export import TableFormat, respond
from lantian.api.params import Fmt
from lantian.api.problems import Problem
from lantian.api.queries import Rows

__all__ = ["catalog_files", "router"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"],
                   dependencies=[Depends(require_principal)])


def catalog_files() -> dict[str, Any]:
    """Map of catalogue table name (file stem) to its file, for every CSV in catalog/data."""
    root = resources.files("lantian.catalog").joinpath("data")
    return {f.name[:-4]: f for f in root.iterdir() if f.name.endswith(".csv")}


@router.get("", summary="Names of the catalogue tables")
def list_tables(user: User) -> dict[str, Any]:
    """Catalogue tables available."""
    return {"items": sorted(catalog_files())}


@router.get("/{name}", summary="Rows of one catalogue table")
def table(name: Annotated[str, Path(max_length=64, pattern=r"^[\w-]+$")], db: Db, user: User,
          fmt: Fmt = TableFormat.json) -> Response:
    """All rows of catalogue table ``name`` (as in the data file)."""
    f = catalog_files().get(name)
    if f is None:
        raise Problem(404, f"catalogue table {name!r} not found")
    reader = csv.DictReader(f.read_text("utf-8").splitlines())
    rows = list(reader)
    return respond(Rows(list(reader.fieldnames or []), [dict(r) for r in rows]), fmt,
                   f"catalog_{name}", db, user)

"""Attach the shared ``lantian import`` group (see :mod:`lantian.commands._groups`)."""

from __future__ import annotations

import typer

from lantian.commands._groups import import_app

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``import`` group; sub-commands are added by each area's module."""
    app.add_typer(import_app, name="import")

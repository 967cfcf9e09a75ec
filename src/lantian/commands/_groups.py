"""Command groups shared by several command modules.

``import_app`` is the ``lantian import`` group: each area adds its own sub-command to it
(``import packets``, ``import gate-records`` …); only :mod:`lantian.commands.imports` attaches
it to the root app.
"""

from __future__ import annotations

import typer

__all__ = ["import_app"]

import_app = typer.Typer(
    help="Import files into the database (导入). Times are China Standard Time.",
    no_args_is_help=True,
)

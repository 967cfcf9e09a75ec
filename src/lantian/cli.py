"""The ``lantian`` command.

Each module in :mod:`lantian.commands` adds its commands through ``register(app)``; this
root only collects them, so command groups stay small and independent. Conventions of every
command (DESIGN.md §7): ``--format json`` writes JSON Lines on stdout and nothing else there;
warnings, progress and summaries go to stderr; exit 0 on success, non-zero with a one-line
reason on stderr otherwise.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from lantian import commands

app = typer.Typer(
    name="lantian",
    help="Lantian (蓝天): supervision of industrial air emissions. Times are China Standard Time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"lantian.commands.{info.name}")
        module.register(app)


_register_all()


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app()

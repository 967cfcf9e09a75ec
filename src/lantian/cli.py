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
import sys

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


def _run_as_mp_main() -> bool:
    """Whether the ``lantian`` script is being re-run by a worker process as ``__mp_main__``.

    A ``spawn``/``forkserver`` child of multiprocessing (the decoding workers of
    ``lantian import packets``) runs the parent's main script again under the name
    ``__mp_main__`` (the script's ``if __name__ == "__main__"`` keeps it from running the
    CLI); in the parent ``__mp_main__`` is absent or ``__main__`` itself. Registering every
    command there would import every command module's dependencies (DuckDB, the API's
    authentication, asyncio …: ≈ 0.2 s of CPU per worker) for nothing.
    """
    mp_main = sys.modules.get("__mp_main__")
    return mp_main is not None and mp_main is not sys.modules.get("__main__")


if not _run_as_mp_main():
    _register_all()


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app()

"""Deferred imports for command modules, so that building the CLI stays cheap.

:mod:`lantian.cli` imports every command module at start-up to register its commands. A
module that imports ibis, pandas, pyarrow, fastapi … at its top makes *every* command pay
for them (about 1–2 s per start without compiled bytecode), including ``lantian import
packets`` which needs none of them. Command modules therefore bind heavy names through
:func:`lazy_import`: the name is a small proxy that imports the real object on first use.

Usage at the top of a command module (the real imports stay visible to mypy)::

    if TYPE_CHECKING:
        import pandas as pd
        from lantian.engine.aqi import PRIMARY_ORDER, hourly_aqi
    else:
        pd = lazy_import("pandas")
        PRIMARY_ORDER, hourly_aqi = lazy_import("lantian.engine.aqi", "PRIMARY_ORDER", "hourly_aqi")

The proxy forwards attribute access, calls, iteration, ``len``, indexing, ``in``, ``str``
and ``repr`` to the real object. It is meant for names used inside function bodies; a name
needed while the module itself is executed (a decorator, an option default) must be
imported normally.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

__all__ = ["LazyObject", "lazy_import"]


class LazyObject:
    """A stand-in for ``module`` (or ``module.attr``) that imports it on first use."""

    __slots__ = ("_lazy_attr", "_lazy_module", "_lazy_target")

    def __init__(self, module: str, attr: str | None = None) -> None:
        object.__setattr__(self, "_lazy_module", module)
        object.__setattr__(self, "_lazy_attr", attr)
        object.__setattr__(self, "_lazy_target", None)

    def _resolve(self) -> Any:
        target = object.__getattribute__(self, "_lazy_target")
        if target is None:
            module = importlib.import_module(object.__getattribute__(self, "_lazy_module"))
            attr = object.__getattribute__(self, "_lazy_attr")
            target = module if attr is None else getattr(module, attr)
            object.__setattr__(self, "_lazy_target", target)
        return target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def __getitem__(self, key: Any) -> Any:
        return self._resolve()[key]

    def __contains__(self, item: Any) -> bool:
        return item in self._resolve()

    def __eq__(self, other: object) -> bool:
        return bool(self._resolve() == other)

    def __hash__(self) -> int:
        return hash(self._resolve())

    def __str__(self) -> str:
        return str(self._resolve())

    def __repr__(self) -> str:
        return repr(self._resolve())


def lazy_import(module: str, *names: str) -> Any:
    """Return a lazy proxy of ``module``, or of each of ``names`` in it (a tuple if several).

    Nothing is imported until the proxy is first used.
    """
    if not names:
        return LazyObject(module)
    if len(names) == 1:
        return LazyObject(module, names[0])
    return tuple(LazyObject(module, n) for n in names)

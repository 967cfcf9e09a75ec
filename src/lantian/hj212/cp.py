"""The CP data-area grammar: ``CP=&&`` groups ``;`` items ``,`` ``Name=value`` ``&&``.

Log text (``iXXXXX-Info=//…//``) is opaque: it may hold ``;``, ``,`` or ``=``, so a value that
starts with ``//`` runs to the next ``//`` that is followed by a separator or the end
(HJ 212-2017 §6.3.4 and Appendix C.40).

References
----------
HJ 212-2017 §6.3.4, Table 4 (data types), Appendix B.10 (field information codes).

"""

from __future__ import annotations

import re

from lantian.errors import FieldIssue

__all__ = [
    "NAME_RE",
    "NUMBER_RE",
    "SUFFIX_RE",
    "format_cp",
    "split_cp",
]

NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
"""A number as HJ 212 writes it (type ``Nn.m``): optional sign, digits, optional point."""

NAME_RE = re.compile(r"[A-Za-z0-9_]+\Z")
"""A factor code or a CP field name (``a21026``, ``DataTime``, ``SB1``, ``pms_rules``)."""

SUFFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
"""A field suffix after ``-`` (``Rtd``, ``ZsAvg``, extensions such as ``Pa_ave``)."""

Groups = tuple[tuple[tuple[str, str], ...], ...]


def _split_plain(body: str) -> list[list[tuple[str, str]]] | None:
    """Fast path for a body without log text; ``None`` when an item has no ``=``."""
    groups: list[list[tuple[str, str]]] = []
    for g in body.split(";"):
        items: list[tuple[str, str]] = []
        for it in g.split(","):
            name, eq, value = it.partition("=")
            if not eq:
                return None
            items.append((name, value))
        groups.append(items)
    return groups


def split_cp(body: str, base: int = 0) -> tuple[Groups, list[FieldIssue]]:
    """Split a CP body (between ``&&`` and ``&&``) into groups of ``(name, value)`` items.

    Parameters
    ----------
    body : str
        CP text without the enclosing ``&&``.
    base : int
        Byte offset of ``body`` in the frame, for the issues' offsets (ASCII bodies only are
        exact; with Chinese text offsets count characters after the first non-ASCII one).

    Returns
    -------
    groups, issues
        ``groups`` as sent; ``issues`` lists malformed items (no ``=``, empty items, an
        unterminated ``//`` log text). Malformed items are left out of ``groups``.

    """
    if not body:
        return (), []
    if "//" not in body:
        fast = _split_plain(body)
        if fast is not None and all(n for g in fast for n, _ in g):
            return tuple(tuple(g) for g in fast), []
    return _split_slow(body, base)


def _split_slow(body: str, base: int) -> tuple[Groups, list[FieldIssue]]:  # noqa: C901
    groups: list[tuple[tuple[str, str], ...]] = []
    issues: list[FieldIssue] = []
    items: list[tuple[str, str]] = []
    i = 0
    n = len(body)
    while True:
        start = i
        # name up to '=' (a separator before '=' makes the item malformed)
        j = i
        while j < n and body[j] not in "=;,":
            j += 1
        if j >= n or body[j] != "=":
            text = body[start:j]
            if text:
                issues.append(FieldIssue(base + start, "CP", f"item {text[:40]!r} has no '='"))
            else:
                issues.append(FieldIssue(base + start, "CP", "empty item"))
            i = j
        else:
            name = body[start:j]
            v = j + 1
            if body.startswith("//", v):
                k = v + 2
                end = -1
                while True:
                    k = body.find("//", k)
                    if k < 0:
                        break
                    if k + 2 == n or body[k + 2] in ";,":
                        end = k + 2
                        break
                    k += 1
                if end < 0:
                    issues.append(FieldIssue(base + v, name or "CP", "log text '//' not closed"))
                    i = n
                    value = body[v:]
                else:
                    value = body[v:end]
                    i = end
                    if i < n and body[i] not in ";,":
                        issues.append(FieldIssue(base + i, name, "text after closing '//'"))
            else:
                k = v
                while k < n and body[k] not in ";,":
                    k += 1
                value = body[v:k]
                i = k
            if not name:
                issues.append(FieldIssue(base + start, "CP", "item with empty name"))
            else:
                items.append((name, value))
        if i >= n:
            groups.append(tuple(items))
            break
        if body[i] == ";":
            groups.append(tuple(items))
            items = []
        i += 1
        if i == n:  # trailing separator
            issues.append(FieldIssue(base + i, "CP", "empty item before '&&'"))
            groups.append(tuple(items))
            break
    return tuple(g for g in groups if g), issues


def format_cp(groups: Groups) -> str:
    """Write groups of ``(name, value text)`` items back as a CP body (inverse of split_cp)."""
    return ";".join(",".join(f"{n}={v}" for n, v in g) for g in groups)

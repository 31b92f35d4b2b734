"""Partial responses: the ``fields`` parameter, in the syntax Google's APIs take.

``a,b`` selects several fields, ``a/b`` a nested one, ``a(b,c)`` several nested ones, ``*`` every
field at its level: ``items(id,snippet(title,publishedAt)),nextPageToken``. Lists are looked
through (``items/id`` is every item's id). A selection that cannot be parsed is a 400 ``Invalid
field selection``; a well-formed name the resource does not have selects nothing (the emulator
does not check names against the API's schemas). Objects left empty by a selection are dropped.
"""

from __future__ import annotations

import re
from typing import Any

# name -> sub-selection (None: the whole value)
Selection = dict[str, Any]

_TOKEN = re.compile(r"[A-Za-z0-9_$.-]+|\*|[,/()]")


class FieldsError(ValueError):
    """A ``fields`` value that is not a valid selection."""


def parse(spec: str) -> Selection:
    """``"items(id,snippet/title)"`` -> ``{"items": {"id": None, "snippet": {"title": None}}}``."""
    text = spec.replace(" ", "")
    tokens = _TOKEN.findall(text)
    if not text or "".join(tokens) != text:
        raise FieldsError(spec)
    selection, end = _list(tokens, 0, spec)
    if end != len(tokens):
        raise FieldsError(spec)
    return selection


def _list(tokens: list[str], at: int, spec: str) -> tuple[Selection, int]:
    selection: Selection = {}
    while True:
        path, sub, at = _item(tokens, at, spec)
        _add(selection, path, sub)
        if at < len(tokens) and tokens[at] == ",":
            at += 1
            continue
        return selection, at


def _item(tokens: list[str], at: int, spec: str) -> tuple[list[str], Selection | None, int]:
    path = []
    while True:
        if at >= len(tokens) or tokens[at] in ",/()":
            raise FieldsError(spec)
        path.append(tokens[at])
        at += 1
        if at < len(tokens) and tokens[at] == "/":
            at += 1
            continue
        break
    sub = None
    if at < len(tokens) and tokens[at] == "(":
        sub, at = _list(tokens, at + 1, spec)
        if at >= len(tokens) or tokens[at] != ")":
            raise FieldsError(spec)
        at += 1
    return path, sub, at


def _add(selection: Selection, path: list[str], sub: Selection | None) -> None:
    node = selection
    for name in path[:-1]:
        child: Selection | None = node.get(name, {})
        if child is None:  # already selected whole
            return
        node = node.setdefault(name, child)
    last = path[-1]
    if sub is None or node.get(last, {}) is None:
        node[last] = None
        return
    merged = node.setdefault(last, {})
    for name, value in sub.items():
        _add(merged, [name], value)


_EMPTY = object()


def apply(value: Any, selection: Selection | None) -> Any:
    """``value`` with only the selected fields (``_EMPTY`` when nothing is left)."""
    if selection is None:
        return value
    if isinstance(value, list):
        kept = [apply(item, selection) for item in value]
        kept = [item for item in kept if item is not _EMPTY]
        return kept if kept else _EMPTY
    if not isinstance(value, dict):
        return _EMPTY  # a scalar has no sub-fields to select
    out: dict[str, Any] = {}
    for name, sub in selection.items():
        names = value if name == "*" else ((name,) if name in value else ())
        for key in names:
            picked = apply(value[key], sub)
            if picked is not _EMPTY:
                out[key] = picked
    return out if out else _EMPTY


def select(document: dict, selection: Selection) -> dict:
    """The partial response of ``document``: ``{}`` when the selection matches nothing."""
    picked = apply(document, selection)
    return {} if picked is _EMPTY else picked

"""JSON written by others (a scanning room's ``batch.json``, a separator sheet's QR text), parsed with a bound on how
deeply it nests.

Python's JSON parser recurses once per level: ``[[[[…`` 100,000 deep raises RecursionError, which no caller expects
from a parser and which escaped as a crash of the run (and of the watcher's pass). Here any nesting deeper than a few
dozen levels is a ValueError that says so; the deepest real document (batch.json: object → documents → object) has 3.
"""

from __future__ import annotations

import json

MAX_JSON_DEPTH = 32
"""Levels of nested objects and arrays accepted; batch.json and a separator payload need at most 3."""


class TooDeepError(ValueError):
    """A JSON text nests its objects and arrays deeper than allowed."""

    def __init__(self, max_depth: int):
        super().__init__(f"nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def parse_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """The value of a JSON text; ``json.JSONDecodeError`` (a ValueError) for bad syntax, :class:`TooDeepError` when
    it nests deeper than ``max_depth``, UnicodeDecodeError for bytes that are not UTF-8."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeepError(max_depth) from None
    if _depth(value) > max_depth:
        raise TooDeepError(max_depth)
    return value


def _depth(value: object) -> int:
    """How deeply a parsed value nests (a scalar is 0, ``[]`` is 1), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest

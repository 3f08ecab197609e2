"""What is wrong with a configuration or manifest file, said without quoting the file.

Messages built here reach files other people read (``reason.txt`` in a scanning room's quarantine, run logs): they name
the field and the problem, and the line and column of a syntax error, but never a value from the file. A room must not
learn the contents of a file by pointing a setting at it and reading the error.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from pipeline.common.jsontext import TooDeepError


def validation_problems(exc: ValidationError, limit: int = 5) -> str:
    """The fields a model refused and why (``completion: Input should be 'marker' or 'quiet'``), values left out."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def syntax_problem(exc: Exception) -> str:
    """Where a YAML or JSON text stops parsing (line and column) and the parser's complaint, without the text."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, TooDeepError):
        return f"its objects and lists are {exc}: refused"
    if isinstance(exc, RecursionError):
        return "its objects and lists are nested too deeply to be read: refused"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None:
        return f"not valid YAML at line {mark.line + 1} column {mark.column + 1}" + (f" ({problem})" if problem else "")
    return f"cannot be parsed ({type(exc).__name__})"

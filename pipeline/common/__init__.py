"""Chores every area does the same way: hashing files, writing them atomically, telling the time, running tools,
giving freed memory back."""

from pipeline.common.clock import utcnow, utcnow_seconds
from pipeline.common.files import (
    sha256_and_size,
    sha256_file,
    sha256_stream,
    write_atomic,
    write_private,
)
from pipeline.common.fonts import CJK_FONT_FILE, cjk_font_file
from pipeline.common.heap import return_free_memory
from pipeline.common.problems import syntax_problem, validation_problems
from pipeline.common.tools import ToolResult, run_tool, tied_to_parent

__all__ = [
    "CJK_FONT_FILE",
    "cjk_font_file",
    "ToolResult",
    "return_free_memory",
    "run_tool",
    "sha256_and_size",
    "sha256_file",
    "sha256_stream",
    "syntax_problem",
    "tied_to_parent",
    "utcnow",
    "utcnow_seconds",
    "validation_problems",
    "write_atomic",
    "write_private",
]

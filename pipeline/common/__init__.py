"""Chores every area does the same way: hashing files, writing them atomically, reading small record files again only
when they change, telling the time, running tools, giving freed memory back."""

from pipeline.common.clock import utcnow, utcnow_seconds
from pipeline.common.files import (
    sha256_and_size,
    sha256_file,
    sha256_stream,
    write_atomic,
    write_private,
)
from pipeline.common.fonts import CJK_EXTENSION_FONT_FILES, CJK_FONT_FILE, cjk_extension_font_files, cjk_font_file
from pipeline.common.heap import return_free_memory
from pipeline.common.jsontext import MAX_JSON_DEPTH, TooDeepError, parse_json
from pipeline.common.names import folded_name
from pipeline.common.parsed import ParsedFiles, files_below
from pipeline.common.problems import syntax_problem, validation_problems
from pipeline.common.text import escaped, invisible, invisible_characters
from pipeline.common.tools import ToolResult, run_tool, tied_to_parent

__all__ = [
    "ParsedFiles",
    "files_below",
    "CJK_EXTENSION_FONT_FILES",
    "CJK_FONT_FILE",
    "MAX_JSON_DEPTH",
    "TooDeepError",
    "cjk_extension_font_files",
    "cjk_font_file",
    "folded_name",
    "escaped",
    "invisible",
    "invisible_characters",
    "ToolResult",
    "parse_json",
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

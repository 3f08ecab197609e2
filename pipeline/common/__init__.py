"""Chores every area does the same way: hashing files, writing them atomically, telling the time, running tools."""

from pipeline.common.clock import utcnow, utcnow_seconds
from pipeline.common.files import sha256_and_size, sha256_file, write_atomic, write_private
from pipeline.common.tools import ToolResult, run_tool

__all__ = [
    "ToolResult",
    "run_tool",
    "sha256_and_size",
    "sha256_file",
    "utcnow",
    "utcnow_seconds",
    "write_atomic",
    "write_private",
]

"""Running an external program: one helper with a timeout and an error that names what was being done.

Every external program has one home in the library (Tesseract in ``ocr/``, PDFBox and qpdf in ``archival/``, ``weed``
in ``storage/``); each runs it through :func:`run_tool`, which turns a timeout, a program that cannot start or a
failed exit into the caller's own exception class, with a message naming the page or volume.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import DossierError
from pipeline.settings import child_env

ErrorFactory = Callable[[str], Exception]


@dataclass(frozen=True)
class ToolResult:
    """What a finished program left: its exit code and output."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def text(self) -> str:
        """stdout as UTF-8 text (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")

    def error_tail(self, lines: int = 3) -> str:
        """The last lines of stderr, joined, for an error message."""
        return " | ".join(self.stderr.decode("utf-8", "replace").strip().splitlines()[-lines:])


def run_tool(args: Sequence[str], *, what: str, timeout: float, tool: str | None = None,
             error: ErrorFactory = DossierError, env: Mapping[str, str] | None = None,
             input: bytes | None = None, check: bool = True, cwd: Path | None = None) -> ToolResult:
    """Run ``args`` and wait at most ``timeout`` seconds; ``what`` says what it does ("OCR of page 003.tif").

    Raises ``error(message)`` when the program times out (it is killed), cannot start, or, with ``check``, exits
    non-zero; ``env`` holds variables the child gets on top of this process's own.
    """
    name = tool or Path(args[0]).name
    try:
        proc = subprocess.run(list(args), input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, env=child_env(env), cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise error(f"{what} could not start {name} ({args[0]}): {exc}") from exc
    result = ToolResult(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise error(f"{what} failed ({name} exit {proc.returncode}): {result.error_tail()}")
    return result

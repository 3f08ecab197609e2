"""Running an external program: one helper with a timeout and an error that names what was being done.

Every external program has one home in the library (Tesseract in ``ocr/``, PDFBox and qpdf in ``archival/``, ``weed``
in ``storage/``); each runs it through :func:`run_tool`, which turns a timeout, a program that cannot start or a
failed exit into the caller's own exception class, with a message naming the page or volume.

A program started here never outlives the process that started it: :func:`tied_to_parent` runs it under util-linux
``setpriv --pdeathsig KILL``, so the kernel kills it when its parent dies, however it dies (SIGKILL included). The
signal is sent when the *thread* that started the child ends; :func:`run_tool` waits for the child in that thread, and
a long-lived child (the CLI's temporary Prefect server) is started from the main thread. A caller killed between
starting the child and ``setpriv`` setting the signal (a window of microseconds, seconds on a loaded machine) would
leave it orphaned: a ``/bin/sh`` step after ``setpriv`` starts the program only while the caller is still its parent.
Both cost ~1.8 ms of CPU per start (2.6 ms against 0.8 ms for a bare fork+exec, of which the shell ~0.5 ms); setting
the signal in a ``preexec_fn`` is unsafe in a process with threads and disables the posix_spawn path.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
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


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv") if sys.platform.startswith("linux") else None


# Run by the wrapper once the death signal is set: a caller that died before that (its child then belongs to init)
# would never send it, so the program starts only if the caller is still its parent.
_IF_PARENT_LIVES = '[ "$PPID" = "$1" ] || exit 137; shift; exec "$@"'


def tied_to_parent(args: Sequence[str]) -> list[str]:
    """``args`` wrapped so that the program is killed when the thread that starts it ends, or does not start if the
    calling process died first (Linux, util-linux ``setpriv``); unchanged where that is not available. The wrapped
    command must be started by this process."""
    wrapper = _setpriv()
    if not wrapper:
        return list(args)
    return [wrapper, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _IF_PARENT_LIVES, "sh", str(os.getpid()), *args]


def run_tool(args: Sequence[str], *, what: str, timeout: float, tool: str | None = None,
             error: ErrorFactory = DossierError, env: Mapping[str, str] | None = None,
             input: bytes | None = None, check: bool = True, cwd: Path | None = None) -> ToolResult:
    """Run ``args`` and wait at most ``timeout`` seconds; ``what`` says what it does ("OCR of page 003.tif").

    Raises ``error(message)`` when the program times out (it is killed), cannot start, or, with ``check``, exits
    non-zero; ``env`` holds variables the child gets on top of this process's own.
    """
    name = tool or Path(args[0]).name
    if shutil.which(args[0]) is None:  # under setpriv a missing program would only show as exit 127
        raise error(f"{what} could not start {name} ({args[0]}): not found or not executable")
    try:
        proc = subprocess.run(tied_to_parent(args), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, env=child_env(env), cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise error(f"{what} could not start {name} ({args[0]}): {exc}") from exc
    result = ToolResult(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise error(f"{what} failed ({name} exit {proc.returncode}): {result.error_tail()}")
    return result

"""Giving the C heap's free memory back to the system between stages of a run.

glibc keeps freed memory in its arenas for reuse, and after a few thousand page buffers (8–26 MB each, freed in
whatever order two worker threads finish them) much of it sits in holes it never returns on its own: on a 1,000-page
batch the process came out of the page stage ~110 MB larger than the same run with every page cached (645 vs 535 MB
at the peak of the checks, where Java and the check children run beside it), and peaks varied from run to run
(974–1,230 MB) with how the holes fell. The page stage gives them back after each chunk.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def return_free_memory() -> bool:
    """Release the free pages of every malloc arena to the system (glibc's ``malloc_trim(0)``); False when the C
    library has no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

"""Returning the C heap's free memory between stages."""

from __future__ import annotations

import os

import pytest

from pipeline.common import return_free_memory


def resident_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_freed_buffers_trapped_between_live_ones_are_given_back():
    # 100 KB buffers come from the heap (below glibc's mmap threshold); a small live object after each keeps the
    # freed ones from coalescing into a top that free() would trim by itself. Each is written to: a zeroed buffer
    # from calloc may never have been touched, and so never resident
    content = b"\x01" * 100_000
    big, small = [], []
    for _ in range(600):
        buffer = bytearray(100_000)
        buffer[:] = content
        big.append(buffer)
        small.append(bytearray(700))
    del big
    before = resident_bytes()
    if not return_free_memory():
        pytest.skip("the C library has no malloc_trim")
    assert resident_bytes() < before - 30 * 2**20
    assert len(small) == 600

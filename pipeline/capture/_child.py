"""Decoding a batch's files in a child process with a CPU budget: a decoder bomb costs its budget, never the run.

A page file can be small and inside every size and pixel limit and still take minutes of CPU to decode: a PDF page of
16,384 page-long lines renders for ~150 CPU-seconds, a progressive JPEG repeating one scan 20,000 times ~50 per
decode. Neither decoder can be stopped from Python: PyMuPDF holds the GIL while MuPDF renders, so a thread can never
set MuPDF's abort cookie (measured: the aborting thread first ran after the render had finished), and libjpeg has no
limit on scans or time. So every decoder of a batch's bytes runs here, in a child that sets its own ``RLIMIT_CPU``
before each request: a request that passes its budget is ended by the kernel (SIGXCPU) whatever library it is in, and
the page is refused by name. A child that dies of something else (killed from outside, out of memory) is the
machine's fault: the request is tried once more in a fresh child, then reported as a failure that holds the work,
never as the batch's fault.

Children are kept (a fresh one costs ~0.4 CPU-s of imports) and shared by the threads of the process, one request at
a time each. They read requests from their stdin and end when it closes, so none outlives its parent by more than one
request. Requests and replies are a JSON header and raw bytes (a page's pixels): nothing is unpickled from a process
that reads hostile input.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.common import return_free_memory
from pipeline.errors import BadInputError, DossierError

_LENGTHS = struct.Struct(">IQ")  # header length, payload length
WALL_SECONDS_PER_CPU_SECOND = 30.0
"""A request may take this many times its CPU budget in wall time before it counts as stuck: the budget, not the
clock, decides what a hostile file may cost; the clock only catches a child that waits without using CPU."""
MIN_WALL_SECONDS = 120.0
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
MAX_IDLE_CHILDREN = 2
"""Idle children kept (~75 MB each once their page buffers are given back): the listing's two threads."""

Operation = Callable[..., tuple[dict, bytes]]


class _ChildGone(Exception):
    """The child ended (or closed its pipe) before it replied."""


def _write_frame(fd: int, header: dict, payload: bytes | memoryview = b"") -> None:
    data = json.dumps(header, ensure_ascii=False).encode("utf-8")
    view = memoryview(_LENGTHS.pack(len(data), len(payload)) + data)
    while view:
        view = view[os.write(fd, view):]
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytearray:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise _ChildGone
        got += n
    return buf


def _read_frame(fd: int, deadline: float | None = None) -> tuple[dict, bytearray]:
    head, size = _LENGTHS.unpack(_read_exact(fd, _LENGTHS.size, deadline))
    header = json.loads(_read_exact(fd, head, deadline).decode("utf-8"))
    return header, _read_exact(fd, size, deadline)


# --------------------------------------------------------------------------------------------------------------------
# the child's side


def serve(operations: dict[str, Operation], requests: int = 0, replies: int = 1) -> None:
    """Answer requests on ``requests`` until it closes, each under its own CPU budget. Library output meant for
    stdout goes to stderr: only replies are written to ``replies``."""
    replies = os.dup(replies)
    os.dup2(2, 1)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a budget passed is SIGXCPU, whose default also dumps core
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            request, _ = _read_frame(requests)
        except _ChildGone:
            return
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        soft = math.ceil(used + request["cpu"])
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        payload: bytes | memoryview = b""
        try:
            reply, payload = operations[request["op"]](**request["args"])
        except BadInputError as exc:
            reply = {"refused": str(exc), "file": exc.file}
        except Exception as exc:  # noqa: BLE001 - said to the parent, which decides
            reply = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
        _write_frame(replies, reply, payload)
        del payload
        return_free_memory()  # a page's buffers (8-26 MB each) would otherwise stay with the idle child


# --------------------------------------------------------------------------------------------------------------------
# the parent's side


class _Child:
    """One decoding child and its pipes."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.capture._decoder"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)

    def ask(self, header: dict, wall_seconds: float) -> tuple[dict, bytearray]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _write_frame(self.proc.stdin.fileno(), header)
            return _read_frame(self.proc.stdout.fileno(), time.monotonic() + wall_seconds)
        except (BrokenPipeError, _ChildGone):
            raise _ChildGone from None

    def died_of(self) -> int | None:
        """The signal that ended the child (waiting briefly for it to be reaped), or None."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return signal.SIGKILL
        return -code if code < 0 else None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.close()

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class _Pool:
    """Idle children, shared by the threads of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Child] = []

    def take(self) -> _Child:
        with self.lock:
            while self.idle:
                child = self.idle.pop()
                if child.proc.poll() is None:
                    return child
                child.close()
        return _Child()

    def give_back(self, child: _Child) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE_CHILDREN:
                self.idle.append(child)
                return
        self.retire(child)

    def retire(self, child: _Child) -> None:
        child.close()  # its stdin closes: it ends
        try:
            child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()

    def close_all(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for child in idle:
            self.retire(child)


_POOL = _Pool()
atexit.register(_POOL.close_all)


def decode_in_child(op: str, args: dict, *, cpu_seconds: float, label: str, file: str) -> tuple[dict, bytearray]:
    """Run a decoding operation (one of :mod:`._decoder`'s) in a child under a CPU budget; its reply header and
    payload. BadInputError naming ``label`` when the file passes the budget, crashes the decoder or is refused by
    it; DossierError (the machine's fault, the work is held) when the child is killed twice or stops using CPU."""
    wall = max(MIN_WALL_SECONDS, WALL_SECONDS_PER_CPU_SECOND * cpu_seconds)
    for attempt in (1, 2):
        child = _POOL.take() if attempt == 1 else _Child()  # once more in a fresh one, never another idle one
        try:
            reply, payload = child.ask({"op": op, "args": args, "cpu": cpu_seconds}, wall)
        except TimeoutError:
            child.kill()
            raise DossierError(f"{label}: decoding did not finish in {wall:g} s although it used less than its "
                               f"{cpu_seconds:g} CPU-seconds: the machine is overloaded; the batch is held") from None
        except _ChildGone:
            died = child.died_of()
            child.close()
            _refuse_for(died, label, file, cpu_seconds)
            if attempt == 2:
                raise DossierError(f"{label}: the decoding process was killed twice "
                                   f"({_signal_name(died)}): the machine's fault, the batch is held") from None
            continue
        _POOL.give_back(child)
        if "refused" in reply:
            raise BadInputError(reply["refused"], reply.get("file"))
        if "failed" in reply:
            raise DossierError(f"{label}: decoding failed ({reply['failed']})")
        return reply, payload
    raise AssertionError("unreachable")


def _refuse_for(died: int | None, label: str, file: str, cpu_seconds: float) -> None:
    """The refusal of the file whose decoding the child died of, when that death is the file's doing."""
    if died == signal.SIGXCPU:
        raise BadInputError(f"{label}：解码超过 {cpu_seconds:g} CPU 秒仍未完成（疑为恶意构造的文件），已拒收；"
                            f"请重新扫描该页 — decoding took more than {cpu_seconds:g} CPU-seconds: refused", file)
    if died in CRASH_SIGNALS:
        raise BadInputError(f"{label}：解码程序读取该文件时崩溃（{_signal_name(died)}），已拒收；请重新扫描该页"
                            f" — the decoder crashed on it ({_signal_name(died)}): refused", file)


def _signal_name(number: int | None) -> str:
    if number is None:
        return "no signal"
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"

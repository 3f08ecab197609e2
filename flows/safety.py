"""Limits that keep runs from hurting each other: one run per case at a time, and a bounded number of pages being
imaged and OCRed at once on each host.

- The per-case lock is a Prefect global concurrency limit named ``dossier-case-<case-key>`` with limit 1, created
  before it is taken and taken with ``strict=True`` (a missing limit must never mean "no lock"). Its lease is renewed
  while the run holds it, so a crashed run frees the case after the lease runs out.
- The page slots are a host-local file-lock semaphore (``flock`` on N slot files in the temp folder): ~0.1 ms per page
  against ~2 s of OCR, no server round trip, and freed by the kernel when a process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.folders import private_folder
from pipeline.settings import cpu_count
from pipeline.storage import case_key

CASE_LOCK_PREFIX = "dossier-case-"
CASE_LOCK_LEASE_SECONDS = 60.0  # the shortest Prefect allows: a run that died frees its case soonest
# every Prefect server of ours keeps these leases on disk: flows.tempserver.LEASE_STORAGE


def case_lock_name(case_no: str) -> str:
    """The global concurrency limit guarding a case."""
    return CASE_LOCK_PREFIX + case_key(case_no)


def ensure_case_limit(case_no: str) -> str:
    """Create (or keep) the case's limit of 1; returns its name."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectAlreadyExists

    name = case_lock_name(case_no)
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, 1)
        except ObjectAlreadyExists:
            pass  # a run of the same case created it between our read and our create: it is there
    return name


@contextlib.contextmanager
def case_lock(case_no: str, timeout_seconds: float | None = None) -> Iterator[str]:
    """Hold the case's lock: a second run of the same case waits here until the first has finished."""
    from prefect.concurrency.sync import concurrency

    name = ensure_case_limit(case_no)
    with concurrency(name, occupy=1, strict=True, timeout_seconds=timeout_seconds,
                     lease_duration=CASE_LOCK_LEASE_SECONDS):
        yield name


def default_slot_folder() -> Path:
    """Where the slot files live unless DOSSIER_SLOTS_DIR says: a per-user folder in the host's temp folder (made
    0700; one another local user created first, or a link, is refused)."""
    return Path(tempfile.gettempdir()) / f"dossier-slots-{os.getuid()}"


class HostSlots:
    """A counting semaphore shared by every process on the host: slot i is held by ``flock`` on file i."""

    def __init__(self, name: str = "pages", count: int | None = None, folder: Path | None = None,
                 poll_seconds: float = 0.02):
        self.name = name
        self.count = count or cpu_count()  # DOSSIER_PAGE_SLOTS, else one per core
        self.folder = folder or default_slot_folder()
        self.poll_seconds = poll_seconds
        self._checked = False

    def _paths(self) -> list[Path]:
        if not self._checked:  # another local user could pre-create it in /tmp and hold or swap the slot files
            private_folder(self.folder, "page slot folder", follow_links=False)
            self._checked = True
        return [self.folder / f"{self.name}-{i:03d}.lock" for i in range(self.count)]

    @contextlib.contextmanager
    def slot(self, timeout_seconds: float | None = None) -> Iterator[int]:
        """Hold one slot (waiting for a free one); yields its number."""
        paths = self._paths()
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        wait = self.poll_seconds
        while True:
            order = list(range(len(paths)))
            random.shuffle(order)
            for i in order:
                fd = os.open(paths[i], os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield i
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"no free {self.name} slot of {self.count} in {self.folder} "
                                   f"after {timeout_seconds:g} s")
            time.sleep(wait)
            wait = min(wait * 1.5, 0.25)

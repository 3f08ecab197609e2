"""The ledger: one record per claimed batch fingerprint, so a crash at any point is recoverable and a batch
dropped twice runs once."""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.common import ParsedFiles, files_below, utcnow, write_atomic
from pipeline.operations._events import LedgerEvent, legacy_event
from pipeline.operations._names import HotFolderError
from pipeline.settings import StateLayout

EntryState = Literal["claimed", "submitted", "held", "settling", "done", "quarantined", "requeued"]


SETTLED = ("done", "quarantined")


class RunFault(BaseModel):
    """How a batch's run failed, as the run itself judged it from its error's class (recorded before it ends)."""

    run_id: str | None = None
    machine: str | None = Field(default=None, description="the part of the machine at fault (store, key, disk, …); "
                                                          "None: the batch's fault")
    kind: str = Field(default="", description="the quarantine reason kind when it is the batch's fault")
    error: str = Field(default="", description="the error's class")
    detail: str = Field(default="", description="the error's message (names the file, page, volume or case)")
    file: str | None = Field(default=None, description="the file named by the error, when it names one")
    at: datetime = Field(default_factory=utcnow)


class LedgerEntry(BaseModel):
    """One batch as the watcher handled it, keyed by its fingerprint."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str
    room: str
    batch: str = Field(description="batch id: the folder name as dropped")
    hotfolder: str
    claim_path: str
    key: str = Field(description="idempotency key of its flow run")
    state: EntryState = "claimed"
    case_no: str = ""
    run_id: str | None = None
    deployment: str | None = None
    outcome_path: str | None = None
    target: Literal["done", "quarantine"] | None = None
    settle_from: str | None = None
    reason: str = ""
    reason_kind: str = Field(default="", description="what kind of reason quarantined it (pipeline.operations "
                                                     "ReasonKind): it decides the advice")
    advice: str = Field(default="", description="what to do next, as reason.txt says it")
    held: str = Field(default="", description="the part of the machine a held batch waits for (store, key, disk, …)")
    fault: RunFault | None = Field(default=None, description="how its latest run failed, as the run judged it")
    requeued: int = Field(default=0, description="times an operator put it back in its room (dossier requeue)")
    attempts: int = Field(default=0, description="times its run was retried after dying or failing for a reason that "
                                                 "was not about the batch")
    retry_starts: int | None = Field(default=None, description="how often the run had started when last retried: "
                                                               "an end reported again without a new start is the "
                                                               "same death, not a new attempt")
    retry_repeats: int = Field(default=0, description="ends reported again for the same attempt (rescheduled, not "
                                                      "counted, at most three times)")
    claimed_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    history: list[LedgerEvent | str] = Field(default_factory=list, description="what happened to it, oldest first: "
                                             "events (a code and its parameters); a ledger written before the codes "
                                             "holds free-text lines ('<UTC time> <what>')")
    duplicates: list[dict] = Field(default_factory=list)

    def events(self) -> list[LedgerEvent]:
        """Its history as events, old free-text lines read as the events they were (see :func:`legacy_event`)."""
        read = (e if isinstance(e, LedgerEvent) else legacy_event(e) for e in self.history)
        return [e for e in read if e is not None]

    @property
    def location(self) -> Path:
        """Where the batch is now (outcome folder once settled, else the claim area)."""
        if self.state in SETTLED and self.outcome_path:
            return Path(self.outcome_path)
        return Path(self.claim_path)


class Ledger:
    """Ledger entries as one JSON file per fingerprint under ``<state>/hotfolder/ledger/``, written atomically;
    read-modify-write cycles hold a file lock so the watcher, reruns and status never lose an update."""

    def __init__(self, state_dir: Path):
        self.folder = StateLayout(Path(state_dir)).ledger
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.folder.parent / "ledger.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the ledger lock (blocking)."""
        with open(self._lock_path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _path(self, fp: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", fp):
            raise HotFolderError(f"not a batch fingerprint: {fp!r}")
        return self.folder / f"{fp}.json"

    def get(self, fp: str) -> LedgerEntry | None:
        """The entry of a fingerprint, or None."""
        path = self._path(fp)
        try:
            return LedgerEntry.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValidationError as exc:
            raise HotFolderError(f"ledger entry {path} is unreadable: {exc}") from exc

    def put(self, entry: LedgerEntry, event: LedgerEvent | None = None) -> LedgerEntry:
        """Write an entry (stamping updated_at and appending the event, stamped now, to its history)."""
        now = utcnow()
        history = entry.history + ([event.model_copy(update={"at": now})] if event else [])
        entry = entry.model_copy(update={"updated_at": now, "history": history})
        write_atomic(self._path(entry.fingerprint), entry.model_dump_json(indent=2).encode("utf-8"))
        return entry

    def update(self, fp: str, event: LedgerEvent, **changes) -> LedgerEntry:
        """Change fields of an existing entry under the lock."""
        with self.locked():
            entry = self.get(fp)
            if entry is None:
                raise HotFolderError(f"no ledger entry for batch fingerprint {fp}")
            return self.put(entry.model_copy(update=changes), event)

    def entries(self, files: ParsedFiles[LedgerEntry] | None = None) -> list[LedgerEntry]:
        """Every entry, most recently updated first; with ``files`` (kept by the caller between calls: see
        :func:`entry_files`) only the entries that changed are read again."""
        paths = files_below(self.folder, 1, suffix=".json")
        found = [e for _, e in (files or entry_files()).read(paths)]
        return sorted(found, key=lambda e: e.updated_at, reverse=True)

    def locate(self, path: Path | str) -> Path | None:
        """Where a batch claimed at ``path`` (or once found there) is now, per the ledger; None if unknown."""
        wanted = str(Path(path))
        for entry in self.entries():
            if wanted in (entry.claim_path, entry.outcome_path):
                return entry.location
        return None


def entry_files() -> ParsedFiles[LedgerEntry]:
    """A reader of ledger entries that parses each again only when it changed (for :meth:`Ledger.entries`)."""
    return ParsedFiles(LedgerEntry.model_validate_json)

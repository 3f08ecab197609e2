"""A deliberate second try: a quarantined batch put back into its room by a named person, to be claimed again.

The batch goes back under the name it was dropped with, exactly as it was dropped (``reason.txt``, the only file the
pipeline ever adds, is taken out; what it said stays in the ledger's history), and its ledger entry says who requeued
it and when. Claimed again, it is checked again from the start (the rooms file, the files, batch.json) and gets a run
of its own (a new idempotency key), not the failed one. The audit entry is the caller's to write first (the library
does not reach the audit log): ``dossier requeue`` and the operators' desk write it before calling :func:`requeue`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import NotFoundError, RefusedError
from pipeline.messages import N_, say
from pipeline.operations._events import EventCode, event
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._names import QUARANTINE, REASON_FILE


def find_quarantined(ledger: Ledger, hotfolder: Path, room: str, batch: str) -> LedgerEntry:
    """The ledger entry of ``quarantine/<room>/<batch>`` of a hot folder (NotFoundError naming what exists)."""
    where = Path(hotfolder).resolve() / QUARANTINE / room / batch
    for entry in ledger.entries():
        if entry.state == "quarantined" and entry.outcome_path and Path(entry.outcome_path) == where:
            return entry
        if any(Path(d.get("path", "")) == where for d in entry.duplicates):
            raise RefusedError(say(N_("{copy} is a copy of batch {first} dropped again: requeue that one ({first}), "
                                      "not its copy"), copy=f"{room}/{batch}", first=f"{entry.room}/{entry.batch}"))
    raise NotFoundError(say(N_("no quarantined batch {batch} in {folder}"), batch=f"{room}/{batch}",
                            folder=Path(hotfolder).resolve() / QUARANTINE))


def requeue(ledger: Ledger, hotfolder: Path, room: str, batch: str, by: str) -> LedgerEntry:
    """Put a quarantined batch back into its room as dropped, recording who did it; returns its entry.
    RefusedError when a batch of that name waits in the room (it would be overwritten) or nobody is named."""
    if not by.strip():
        raise RefusedError(say(N_("a requeue needs the name of the person who asks for it")))
    with ledger.locked():
        entry = find_quarantined(ledger, hotfolder, room, batch)
        source = Path(entry.outcome_path or "")
        target = Path(hotfolder).resolve() / entry.room / entry.batch
        if os.path.lexists(target):
            raise RefusedError(say(N_("a batch named {batch} is already in the room: move it away first, or drop "
                                      "this one again under another name"), batch=f"{entry.room}/{entry.batch}"))
        if not source.is_dir():
            raise NotFoundError(say(N_("quarantined batch {path} is no longer there"), path=source))
        said = (source / REASON_FILE).read_text(encoding="utf-8", errors="replace") \
            if (source / REASON_FILE).is_file() else ""
        entry = ledger.put(entry.model_copy(update={"state": "requeued", "requeued": entry.requeued + 1}),
                           event(EventCode.REQUEUED, by=by.strip(), path=str(target), said=said.strip()[:1500]))
        (source / REASON_FILE).unlink(missing_ok=True)
        os.rename(source, target)
        return ledger.put(entry.model_copy(update={"outcome_path": None, "claim_path": str(target)}),
                          event(EventCode.MOVED_BACK, path=str(target)))

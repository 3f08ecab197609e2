"""Settling: the move of a claimed batch to ``done/`` or ``quarantine/`` with its reason."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path
from typing import Literal

from pipeline.capture import MANIFEST_NAME, open_regular, shown
from pipeline.common import parse_json, utcnow, write_atomic
from pipeline.errors import DossierError
from pipeline.messages import N_, say
from pipeline.operations._events import EventCode, LedgerEvent, event, event_words
from pipeline.operations._folders import HotFolder, write_reason
from pipeline.operations._ledger import SETTLED, EntryState, Ledger, LedgerEntry
from pipeline.operations._names import DONE, QUARANTINE, REASON_FILE, HotFolderError
from pipeline.operations._reasons import Reason, ReasonKind, advice_for, local_time, reason, reason_text
from pipeline.operations._rooms import RoomsFile


def settle(hot: HotFolder, ledger: Ledger, fp: str, outcome: Literal["done", "quarantine"], why: Reason | None = None,
           happened: LedgerEvent | None = None) -> LedgerEntry:
    """Move a claimed (or quarantined) batch to an outcome folder and record it; safe to repeat after a crash.

    The target path is recorded first (state ``settling``), then the folder is renamed, then ``reason.txt`` is
    written inside a quarantined batch (a batch moving on from quarantine to done keeps it, with a line saying how
    it was resolved), then the entry is marked settled. A settle resumed after a crash takes the reason recorded.
    """
    final_state: EntryState = "done" if outcome == DONE else "quarantined"
    line = why.line if why else ""
    recorded = {"reason": line, "reason_kind": why.kind.value, "advice": why.advice} if why else {}
    with ledger.locked():
        entry = ledger.get(fp)
        if entry is None:
            raise HotFolderError(f"no ledger entry for batch fingerprint {fp}")
        if entry.state == final_state:
            return entry
        if entry.state == "settling" and entry.target == outcome and entry.outcome_path:
            target = Path(entry.outcome_path)
            source = Path(entry.settle_from or entry.claim_path)
        else:
            source = Path(entry.outcome_path) if entry.state in SETTLED and entry.outcome_path \
                else Path(entry.claim_path)
            target = hot.outcome_path(outcome, entry.room, entry.batch)
            entry = ledger.put(entry.model_copy(update={"state": "settling", "target": outcome,
                                                        "outcome_path": str(target), "settle_from": str(source),
                                                        "held": "", **recorded}),
                               event(EventCode.SETTLING, outcome=outcome, path=str(target)))
        if not target.exists():
            if not source.is_dir():
                # the batch is somewhere we did not put it: leave the entry settling for a human to look at
                raise HotFolderError(f"batch {entry.room}/{entry.batch} ({fp[:12]}) is neither at {source} nor at "
                                     f"{target}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
        if outcome == QUARANTINE:
            write_reason(target, entry_reason_text(hot, entry, why))
        elif (target / REASON_FILE).is_file():
            old = (target / REASON_FILE).read_text(encoding="utf-8", errors="replace").rstrip()
            note = say(N_("Resolved:     {when} {what}; moved to {target}"), when=local_time(None, hot.zone),
                       what=event_words(happened) if happened else say(N_("published")), target=target)
            write_atomic(target / REASON_FILE, (old + "\n" + note + "\n").encode("utf-8"))
        kept = recorded if outcome == QUARANTINE else {}
        happened = happened or event(EventCode.SETTLED, outcome=final_state, path=str(target))
        if outcome == QUARANTINE and entry.reason:  # what it says in reason.txt, in its history too
            happened = happened.model_copy(update={"params": {**happened.params, "reason": entry.reason}})
        return ledger.put(entry.model_copy(update={"state": final_state, "target": None, "settle_from": None,
                                                   "outcome_path": str(target), "held": "", **kept}),
                          happened)


def entry_reason_text(hot: HotFolder, entry: LedgerEntry, why: Reason | None) -> str:
    """``reason.txt`` of a ledger entry: the reason given, else the one recorded (a settle resumed after a crash)."""
    if why is None:
        kind = ReasonKind(entry.reason_kind) if entry.reason_kind in set(ReasonKind) else ReasonKind.UNEXPECTED
        why = Reason(kind, entry.reason, entry.advice or advice_for(kind, entry.room, entry.batch, entry.case_no),
                     entry.reason)
    return reason_text(entry.room, entry.batch, entry.case_no, why, entry.fingerprint, entry.run_id, hot.zone)


def quarantine_duplicate(hot: HotFolder, ledger: Ledger, original: LedgerEntry, claimed: Path,
                         why: str) -> Path:
    """Move a second copy of an already-handled batch to quarantine with a reason naming the first; no new run."""
    target = hot.outcome_path(QUARANTINE, original.room, claimed.name)
    os.rename(claimed, target)
    first = f"{original.room}/{original.batch}"
    detail = (f"duplicate of batch {first} (fingerprint {original.fingerprint[:16]}, run {original.run_id or '-'}, "
              f"{original.state}{': ' + original.reason if original.reason else ''}); {why}")
    write_reason(target, reason_text(original.room, claimed.name, original.case_no,
                                     reason(ReasonKind.DUPLICATE, detail, original.room, claimed.name,
                                            original.case_no, first=first),
                                     original.fingerprint, original.run_id, hot.zone))
    with ledger.locked():
        entry = ledger.get(original.fingerprint) or original
        ledger.put(entry.model_copy(update={"duplicates": entry.duplicates + [
            {"path": str(target), "at": utcnow().isoformat(timespec="seconds")}]}),
            event(EventCode.DUPLICATE, path=str(target)))
    return target


def batch_case_no(batch_dir: Path) -> str:
    """The case number from batch.json, or '' when there is none or it cannot be read (the run will say why)."""
    try:
        with os.fdopen(open_regular(batch_dir / MANIFEST_NAME), "rb") as fh:
            data = parse_json(fh.read(1 << 22).decode("utf-8"))
        return shown(str(data.get("case_no", ""))) if isinstance(data, dict) else ""
    except (OSError, ValueError, DossierError):
        return ""


def quarantine_refused(hot: HotFolder, ledger: Ledger, room: str, claimed: Path, why: Reason) -> LedgerEntry:
    """A claimed batch refused at the door, before any byte of it was hashed: moved to quarantine with its reason
    and recorded in the ledger under a fingerprint of its own (no run is started).

    A link planted in the claim area is moved into a real folder of its name in quarantine, never followed: the
    reason is written beside it, not through it.
    """
    name = claimed.name
    target = hot.outcome_path(QUARANTINE, room, name)
    if stat.S_ISLNK(os.lstat(claimed).st_mode) or not claimed.is_dir():
        target.mkdir()
        os.rename(claimed, target / name)
    else:
        os.rename(claimed, target)
    refused = event(EventCode.REFUSED, path=shown(str(target)), kind=why.kind.value, detail=why.detail)
    why = Reason(why.kind, why.what, why.advice, f"refused when the batch was claimed: {why.detail}")
    seed = f"dossier-refused/1\0{room}\0{name}\0{time.time_ns()}\0{os.getpid()}"
    fp = hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()
    entry = LedgerEntry(fingerprint=fp, room=shown(room), batch=shown(name), hotfolder=str(hot.root),
                        claim_path=shown(str(claimed)), key=f"refused-{fp[:32]}", case_no=batch_case_no(target),
                        state="quarantined", outcome_path=shown(str(target)), reason=why.line,
                        reason_kind=why.kind.value, advice=why.advice)
    write_reason(target, reason_text(entry.room, entry.batch, entry.case_no, why, fp, None, hot.zone))
    with ledger.locked():
        return ledger.put(entry, refused)


def settle_after_rerun(state_dir: Path, case_no: str, batch_id: str, run_id: str) -> list[LedgerEntry]:
    """After a successful rerun of a case, move its quarantined batch(es) of that batch id on to done."""
    from pipeline.storage import normalise_case_no

    ledger = Ledger(state_dir)
    moved = []
    wanted = normalise_case_no(case_no)
    for entry in ledger.entries():
        if entry.state != "quarantined" or entry.batch != batch_id or not entry.outcome_path:
            continue
        try:
            same = normalise_case_no(entry.case_no) == wanted
        except DossierError:
            same = False
        if not same or not Path(entry.outcome_path).is_dir():
            continue
        # moving a batch on needs no room's binding: an empty rooms file will do
        moved.append(settle(HotFolder(Path(entry.hotfolder), RoomsFile()), ledger, entry.fingerprint, DONE, None,
                            event(EventCode.COMPLETED_BY_RERUN, run=run_id)))
    return moved

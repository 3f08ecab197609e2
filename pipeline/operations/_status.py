"""The operators' view: one state per batch — waiting in its room, held for the machine, running, waiting for a
review, published, quarantined with what to do next — and the history of one case. Pure functions of what the state
folder holds (the ledger, the watcher's last word, the runs' records, the rooms' folders), shared by
``dossier status`` and the operators' desk; times shown in the configured zone, stored in UTC."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Protocol

from pipeline.common import utcnow
from pipeline.messages import N_, language, said, say
from pipeline.models import BatchStatus, CaseHistory, HistoryEvent, StatusReport, WatcherSummary
from pipeline.operations._events import event_words
from pipeline.operations._folders import HotFolder
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._rooms import RoomsFile
from pipeline.operations._runs import unavailable_words
from pipeline.operations._watcher_state import WatcherState, read_watcher_state


class RunView(Protocol):
    """What the status needs of a run's record (``run.json`` of a work folder)."""

    case_no: str
    batch_id: str
    status: str
    kind: str
    flow_run_id: str | None
    updated: datetime
    started: datetime
    manifest_version: str | None
    error: str
    failed_volumes: list[int]


LABELS = {
    "arriving": N_("being dropped"), "waiting": N_("waiting to be taken"), "claimed": N_("taken"),
    "running": N_("processing"), "review": N_("waiting for review ({age})"), "retrying": N_("retrying ({n} of {of})"),
    "published": N_("published"), "quarantined": N_("quarantined"), "requeued": N_("put back, to be taken again"),
}

RUN_KINDS = {"process": N_("process"), "rerun": N_("rerun"), "reprocess": N_("reprocess")}
RUN_STATES = {"running": N_("running"), "review": N_("waiting for review"), "failed": N_("failed"),
              "built": N_("built, not published"), "published": N_("published")}
"""What a run does and where it is (a run record's ``kind`` and ``status``), in the reader's words."""


EVENT_KINDS = {"try": N_("batch"), "run": N_("run"), "review": N_("review"), "publication": N_("publication")}
"""What kind of thing happened to a case (a history event's ``kind``), in the reader's words."""


def event_kind_words(kind: str) -> str:
    """A history event's kind as people say it: 批次, 运行, 审核, 发布 (an unknown kind as is)."""
    return said(EVENT_KINDS, kind)


def run_kind_words(kind: str) -> str:
    """A run's kind as people say it: 处理, 重做, 重新处理 (an unknown kind as is)."""
    return said(RUN_KINDS, kind)


def run_state_words(status: str) -> str:
    """A run's status as people say it: 运行中, 等待审核, 失败… (an unknown status as is)."""
    return said(RUN_STATES, status)


MACHINE_STEPS = {
    "store": N_("check the object store: dossier store status (dossier store start)"),
    "key": N_("configure the signing key or put its file back (DOSSIER_SIGN_PKCS12)"),
    "disk": N_("free space on the state disk"),
    "settings": N_("correct the DOSSIER_* setting (see the watcher's log)"),
    "profile": N_("correct the standard profile (see the watcher's log)"),
    "rooms": N_("correct the rooms file (see the watcher's log)"),
    "database": N_("check the access database (DOSSIER_DB_URL)"),
}


def age(seconds: float) -> str:
    """A duration as people say it: 5 分钟, 3 小时, 2 天."""
    if seconds < 3600:
        return say(N_("{n} min"), n=max(1, int(seconds // 60)))
    if seconds < 2 * 86400:
        return say(N_("{n} h"), n=int(seconds // 3600))
    return say(N_("{n} days"), n=int(seconds // 86400))


def local(when: datetime, zone: tzinfo | None) -> str:
    """A moment as people read it in the zone: 12-07 09:05."""
    return when.astimezone(zone or UTC).strftime("%m-%d %H:%M")


def _runs_by(runs: Iterable[RunView]) -> tuple[dict[str, RunView], dict[tuple[str, str], RunView]]:
    by_id, by_batch = {}, {}
    for run in sorted(runs, key=lambda r: r.updated):
        if run.flow_run_id:
            by_id[run.flow_run_id] = run
        by_batch[(run.case_no, run.batch_id)] = run
    return by_id, by_batch


def entry_status(entry: LedgerEntry, run: RunView | None, watcher: WatcherState | None, now: datetime,
                 zone: tzinfo | None, run_retries: int = 5) -> BatchStatus:
    """The one state of a batch the ledger knows."""
    since, reason, step = entry.updated_at, "", ""
    where = entry.outcome_path if entry.state in ("done", "quarantined") and entry.outcome_path else entry.claim_path
    if entry.state == "done":
        state, label = "published", say(LABELS["published"])
    elif entry.state == "quarantined":
        state, label, reason, step = "quarantined", say(LABELS["quarantined"]), entry.reason, entry.advice
    elif entry.state == "held":
        state, label, reason = "held", unavailable_words(entry.held), entry.reason
        step = say(MACHINE_STEPS.get(entry.held, N_("see the watcher's log")))
    elif entry.state == "requeued":
        state, label = "requeued", say(LABELS["requeued"])
    elif entry.state == "claimed" and watcher is not None and watcher.alive(now) and watcher.machine:
        state, label = "held", unavailable_words(watcher.machine)
        reason, step = watcher.machine_message, say(MACHINE_STEPS.get(watcher.machine, N_("see the watcher's log")))
    elif entry.state == "claimed":
        state, label = "claimed", say(LABELS["claimed"])
    elif run is not None and run.status == "review":
        state, since = "review", run.updated
        label = say(LABELS["review"], age=age((now - run.updated).total_seconds()))
        step = f"dossier catalogue review '{entry.case_no}' --by <姓名>"
    elif entry.attempts:
        state, label = "retrying", say(LABELS["retrying"], n=entry.attempts, of=run_retries)
    else:
        state, label = "running", say(LABELS["running"])
    return BatchStatus(room=entry.room, batch=Path(where or entry.batch).name, case_no=entry.case_no, state=state,
                       label=label, since=since, since_local=local(since, zone), reason=reason, next_step=step,
                       reason_kind=entry.reason_kind if state == "quarantined" else "", run_id=entry.run_id,
                       attempts=entry.attempts, where=where or "")


def room_batches(hotfolder: Path, watcher: WatcherState | None, now: datetime, zone: tzinfo | None,
                 known: set[str]) -> list[BatchStatus]:
    """Batches still in their rooms, not yet taken, with why they wait."""
    try:
        hot = HotFolder(hotfolder, RoomsFile())
    except Exception:  # noqa: BLE001 - a hot folder that is gone has no batch waiting
        return []
    alive = watcher is not None and watcher.alive(now) and Path(watcher.hotfolder) == hot.root
    found = []
    for room in hot.rooms():
        for folder in hot.incoming(room):
            if str(folder) in known:
                continue
            name = f"{room}/{folder.name}"
            why = watcher.waiting.get(name, "") if alive and watcher else ""
            if not alive:
                state, label = "waiting", say(N_("waiting: no watcher is running"))
                step = f"dossier watch {hot.root}"
            elif watcher and watcher.machine:
                state, label = "waiting", unavailable_words(watcher.machine)
                step = say(MACHINE_STEPS.get(watcher.machine, N_("see the watcher's log")))
            elif "not yet complete" in why:
                state, label, step = "arriving", say(LABELS["arriving"]), say(N_("finish the drop: write READY last"))
            else:
                state, label, step = "waiting", say(LABELS["waiting"]), ""
            since = datetime.fromtimestamp(os.lstat(folder).st_mtime, UTC)
            found.append(BatchStatus(room=room, batch=folder.name, state=state, label=label, since=since,
                                     since_local=local(since, zone), reason=why, next_step=step, where=str(folder)))
    return found


def status_report(home: Path, runs: Sequence[RunView] = (), hotfolders: Sequence[Path] = (), *,
                  zone: tzinfo | None = None, now: datetime | None = None, rooms: Sequence[str] = (),
                  states: Sequence[str] = (), limit: int | None = None,
                  entries: Sequence[LedgerEntry] | None = None) -> StatusReport:
    """Every batch of the state folder's hot folder(s), one state each, newest first (``rooms``/``states`` filter:
    a state's code or its label); ``entries``: the ledger's, when the caller read them already."""
    now = now or utcnow()
    watcher = read_watcher_state(home)
    by_id, by_batch = _runs_by(runs)
    rows = []
    for entry in Ledger(home).entries() if entries is None else entries:
        if entry.state == "requeued" and not Path(entry.claim_path).exists():
            continue  # claimed again since: its new entry says where it is
        run = by_id.get(entry.run_id or "") or by_batch.get((entry.case_no, entry.batch))
        rows.append(entry_status(entry, run, watcher, now, zone))
        rows += [duplicate_status(entry, dup, zone) for dup in entry.duplicates]
    folders = {Path(h).resolve() for h in hotfolders}
    if watcher is not None:
        folders.add(Path(watcher.hotfolder))
    known = {row.where for row in rows}
    for folder in sorted(folders):
        rows += room_batches(folder, watcher, now, zone, known)
    rows = [r for r in rows if (not rooms or r.room in rooms) and (not states or r.state in states or
                                                                   r.label in states)]
    rows.sort(key=lambda r: r.since, reverse=True)
    summary = WatcherSummary(running=bool(watcher and watcher.alive(now)), at=watcher.at if watcher else None,
                             hotfolder=watcher.hotfolder if watcher else "",
                             machine=watcher.machine if watcher else None,
                             machine_message=watcher.machine_message if watcher else "")
    return StatusReport(generated_at=now, timezone=str(zone or "UTC"), language=language(), watcher=summary,
                        batches=rows[:limit] if limit else rows)


def duplicate_status(entry: LedgerEntry, duplicate: dict, zone: tzinfo | None) -> BatchStatus:
    """A copy of a batch dropped again, kept in quarantine."""
    since = datetime.fromisoformat(duplicate.get("at", entry.updated_at.isoformat()))
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    path = str(duplicate.get("path", ""))
    return BatchStatus(room=entry.room, batch=Path(path).name, case_no=entry.case_no, state="quarantined",
                       label=say(LABELS["quarantined"]), since=since, since_local=local(since, zone),
                       reason_kind="duplicate",
                       reason=say(N_("the same files as batch {first}"), first=f"{entry.room}/{entry.batch}"),
                       next_step=say(N_("nothing to do: these files were handled as batch {first}; see what it says"),
                                     first=f"{entry.room}/{entry.batch}"), where=path)


def case_history(home: Path, case_no: str, same_case, runs: Sequence[RunView] = (),
                 reviews: Sequence[tuple[str, datetime, str]] = (), *, zone: tzinfo | None = None,
                 now: datetime | None = None) -> CaseHistory:
    """Everything that happened to one case: each try of its batches (the ledger's events), each run, each review
    (who, when, what) and each publication, oldest first; ``same_case(case_no)`` tells its case numbers."""
    now = now or utcnow()
    events: list[HistoryEvent] = []
    entries = [e for e in Ledger(home).entries() if same_case(e.case_no)]
    for entry in entries:
        for happened in entry.events():
            at = happened.at if happened.at.tzinfo else happened.at.replace(tzinfo=UTC)
            events.append(HistoryEvent(at=at, at_local=local(at, zone), kind="try", code=happened.code.value,
                                       what=event_words(happened), batch=f"{entry.room}/{entry.batch}",
                                       run_id=entry.run_id))
    for run in runs:
        what = say(N_("{kind} run: {status}"), kind=run_kind_words(run.kind), status=run_state_words(run.status))
        if run.error:
            what += f" — {run.error[:300]}"
        events.append(HistoryEvent(at=run.updated, at_local=local(run.updated, zone), kind="run", what=what,
                                   batch=run.batch_id, run_id=run.flow_run_id))
        if run.status == "published" and run.manifest_version:
            events.append(HistoryEvent(at=run.updated, at_local=local(run.updated, zone), kind="publication",
                                       what=say(N_("published: manifest version {version}"),
                                                version=run.manifest_version), batch=run.batch_id,
                                       run_id=run.flow_run_id))
    for by, at, what in reviews:
        events.append(HistoryEvent(at=at, at_local=local(at, zone), kind="review",
                                   what=say(N_("reviewed by {by}: {what}"), by=by, what=what)))
    events.sort(key=lambda e: e.at)
    watcher = read_watcher_state(home)
    by_id, by_batch = _runs_by(runs)
    batches = [entry_status(e, by_id.get(e.run_id or "") or by_batch.get((e.case_no, e.batch)), watcher, now, zone)
               for e in entries]
    return CaseHistory(case_no=case_no, generated_at=now, timezone=str(zone or "UTC"), events=events,
                       batches=batches)

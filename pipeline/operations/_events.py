"""What happened to a batch, as the ledger records it: a stable event code and its parameters (run ids, paths, the
error's class, who asked), never sentences. Sentences are made where people read them (``dossier status 案号``, the
operators' desk) from the gettext catalogue, in the reader's language.

Ledgers written before the codes hold free-text English lines (``"<UTC time> claimed at …"``); they stay readable:
:func:`legacy_event` maps each sentence the watcher used to write onto its code, and a line it does not recognise is
shown as recorded, marked as an old record (nothing is rewritten: the ledger is the record of what happened).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from pipeline.common import utcnow
from pipeline.messages import N_, said, say
from pipeline.operations._reasons import reason_parts


class EventCode(StrEnum):
    """What happened to a batch (one code per thing the watcher, a settle or a requeue does)."""

    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    RUN_EXISTS = "run-exists"
    RUN_ID = "run-id"
    RUN_FAILED = "run-failed"
    HELD = "held"
    RESUMED = "resumed"
    RETRIED = "retried"
    RETRY_REPEATED = "retry-repeated"
    RETRIED_READY = "retried-ready"
    COMPLETED = "completed"
    COMPLETED_AFTER_RETRY = "completed-after-retry"
    COMPLETED_BY_RERUN = "completed-by-rerun"
    BATCH_FAULT = "batch-fault"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ROOM_INVALID = "room-invalid"
    SETTLING = "settling"
    SETTLE_RESUMED = "settle-resumed"
    SETTLED = "settled"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    REQUEUED = "requeued"
    MOVED_BACK = "moved-back"
    LEGACY = "legacy"


_WORDS = {
    EventCode.CLAIMED: N_("taken from the room into {path}"),
    EventCode.SUBMITTED: N_("run {run} started"),
    EventCode.RUN_EXISTS: N_("run {run} already exists for {path}"),
    EventCode.RUN_ID: N_("the run is now {run}"),
    EventCode.RUN_FAILED: N_("run {run} failed: {error}"),
    EventCode.HELD: N_("run {run} ended ({message}); held: {part} unavailable ({problem})"),
    EventCode.RESUMED: N_("goes on: the machine is ready again"),
    EventCode.RETRIED: N_("run {run} ended ({message}): retry {attempt} of {of} in {delay} s as run {new}"),
    EventCode.RETRY_REPEATED: N_("run {run} ended ({message}), reported again: retry {attempt} repeated in {delay} "
                                 "s as run {new}"),
    EventCode.RETRIED_READY: N_("the machine is ready again: run {run} goes on as run {new}"),
    EventCode.COMPLETED: N_("run {run} completed"),
    EventCode.COMPLETED_AFTER_RETRY: N_("run {run} completed after a retry"),
    EventCode.COMPLETED_BY_RERUN: N_("completed by rerun {run}"),
    EventCode.BATCH_FAULT: N_("run {run} failed because of the batch ({error})"),
    EventCode.CANCELLED: N_("run {run} was cancelled"),
    EventCode.FAILED: N_("run {run} failed every time it was tried"),
    EventCode.ROOM_INVALID: N_("the room's configuration is invalid"),
    EventCode.SETTLING: N_("being moved ({outcome}): {path}"),
    EventCode.SETTLE_RESUMED: N_("an interrupted move goes on"),
    EventCode.SETTLED: N_("{outcome}: {path}"),
    EventCode.DUPLICATE: N_("the same files were dropped again: the copy is quarantined at {path}"),
    EventCode.REFUSED: N_("refused when taken from the room ({what}), quarantined at {path}: {detail}"),
    EventCode.REQUEUED: N_("put back in the room by {by}: {path}"),
    EventCode.MOVED_BACK: N_("moved back to {path}"),
}
_OUTCOMES = {"done": N_("published"), "quarantine": N_("quarantined"), "quarantined": N_("quarantined")}
_MACHINE = {"store": N_("object store"), "key": N_("signing key"), "disk": N_("disk"), "settings": N_("settings"),
            "profile": N_("standard profile"), "rooms": N_("rooms file"), "database": N_("database"),
            "orchestrator": N_("Prefect server")}


class LedgerEvent(BaseModel):
    """One thing that happened to a batch: when (UTC), its code and its parameters."""

    model_config = ConfigDict(extra="ignore")

    at: datetime = Field(default_factory=utcnow)
    code: EventCode
    params: dict[str, str | int | float | None] = Field(default_factory=dict)


def event(code: EventCode, **params: str | int | float | None) -> LedgerEvent:
    """An event happening now."""
    return LedgerEvent(code=code, params=params)


def event_words(happened: LedgerEvent) -> str:
    """An event as people read it, in the current language; an old free-text line as recorded, marked as such."""
    params = {k: "" if v is None else v for k, v in happened.params.items()}
    if happened.code is EventCode.LEGACY:
        return say(N_("(old record) {text}"), text=params.get("text", ""))
    if happened.code is EventCode.REFUSED:
        params["what"] = reason_parts(str(params.get("kind", "")), "")[0] or say(N_("see the detail"))
    if "outcome" in params:
        params["outcome"] = said(_OUTCOMES, str(params["outcome"]))
    if "part" in params:
        params["part"] = said(_MACHINE, str(params["part"]))
    if "error" in params and params.get("machine"):
        params["error"] = say(N_("{error} (the machine: {part})"), error=params["error"],
                              part=said(_MACHINE, str(params["machine"])))
    if not params.get("message") and happened.code in (EventCode.HELD, EventCode.RETRIED, EventCode.RETRY_REPEATED):
        params["message"] = say(N_("no message"))
    try:
        text = say(_WORDS[happened.code], **params)
    except KeyError:  # a parameter missing from a hand-edited ledger: the code and what is there
        return f"{happened.code.value}: {happened.params}"
    return say(N_("{what} — {reason}"), what=text, reason=params["reason"]) if params.get("reason") else text


_STAMP = re.compile(r"(\S+) (.*)", re.S)
_LEGACY: list[tuple[re.Pattern[str], EventCode]] = [(re.compile(p, re.S), c) for p, c in [
    (r"claimed at (?P<path>.+?)(?: \(requeued \d+\))?", EventCode.CLAIMED),
    (r"submitted: run (?P<run>\S+)", EventCode.SUBMITTED),
    (r"run (?P<run>\S+) already exists for (?P<path>.+)", EventCode.RUN_EXISTS),
    (r"run id is (?P<run>\S+)", EventCode.RUN_ID),
    (r"run (?P<run>\S+) failed: the batch's fault \((?P<error>.*)\)", EventCode.BATCH_FAULT),
    (r"run (?P<run>\S+) failed: (?P<error>\S+?)(?: \(machine: (?P<machine>\w+)\))?", EventCode.RUN_FAILED),
    (r"run (?P<run>\S+) failed", EventCode.FAILED),
    (r"run (?P<run>\S+) ended '(?P<message>.*)'; held: (?P<part>\w+) unavailable \((?P<problem>.*)\)",
     EventCode.HELD),
    (r"resumed: the machine is ready", EventCode.RESUMED),
    (r"run (?P<run>\S+) ended '(?P<message>.*)': retry (?P<attempt>\d+) of (?P<of>\d+) in (?P<delay>\S+) s as run "
     r"(?P<new>\S+)", EventCode.RETRIED),
    (r"run (?P<run>\S+) ended '(?P<message>.*)': reported again, retry (?P<attempt>\d+) repeated in (?P<delay>\S+) s "
     r"as run (?P<new>\S+)", EventCode.RETRY_REPEATED),
    (r"run (?P<run>\S+) held: the machine is ready again in \S+ s as run (?P<new>\S+)", EventCode.RETRIED_READY),
    (r"run (?P<run>\S+) completed after a retry", EventCode.COMPLETED_AFTER_RETRY),
    (r"run (?P<run>\S+) completed", EventCode.COMPLETED),
    (r"completed by rerun (?P<run>\S+)", EventCode.COMPLETED_BY_RERUN),
    (r"run (?P<run>\S+) cancelled", EventCode.CANCELLED),
    (r"room configuration invalid", EventCode.ROOM_INVALID),
    (r"settling to (?P<outcome>done|quarantine): (?P<path>.+)", EventCode.SETTLING),
    (r"settle resumed(?: after restart)?", EventCode.SETTLE_RESUMED),
    (r"(?P<outcome>done|quarantined): (?P<path>\S+)(?: \((?P<reason>.*)\))?", EventCode.SETTLED),
    (r"duplicate dropped again, quarantined at (?P<path>.+)", EventCode.DUPLICATE),
    (r"refused at the claim, quarantined at (?P<path>.+?): (?P<detail>.*)", EventCode.REFUSED),
    (r"requeued by (?P<by>.+?): back to (?P<path>.+?) \(it said: .*\)", EventCode.REQUEUED),
    (r"moved back to (?P<path>.+)", EventCode.MOVED_BACK),
]]


def legacy_event(line: str) -> LedgerEvent | None:
    """A free-text history line of an older ledger (``"<UTC time> <what>"``) as an event: its code when it is one
    of the sentences the watcher used to write, else marked as an old record; None when it has no time."""
    found = _STAMP.fullmatch(line)
    if not found:
        return None
    try:
        at = datetime.fromisoformat(found.group(1))
    except ValueError:
        return None
    what = found.group(2)
    for pattern, code in _LEGACY:
        if matched := pattern.fullmatch(what):
            return LedgerEvent(at=at, code=code, params={k: v for k, v in matched.groupdict().items() if v})
    return LedgerEvent(at=at, code=EventCode.LEGACY, params={"text": what})

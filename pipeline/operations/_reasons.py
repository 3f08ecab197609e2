"""Why a batch was quarantined, and what works next: one kind per failure, each with the command (or the act of the
room) that resolves it, in the reader's language, Chinese first, the technical detail after it.

Every advice names a command that works for that kind of failure (the tests run each one):

=================  ==================================================================================================
kind               what to do next
=================  ==================================================================================================
bad-input          correct the file named (rescan a page) and drop the whole batch again: a changed batch is new
not-allowed        an administrator allows the agency or case number in the rooms file, then ``dossier requeue``
refused            after an administrator resolved it (security level, the case's owner): ``dossier requeue``
decision           correct what a person must decide (a separator sheet, a page count) and drop the batch again
review-timeout     nobody reviewed the 卷内目录 in time: ``dossier requeue`` (it waits for a review again)
volumes            volumes or their checks failed: ``dossier rerun 案号`` rebuilds only what failed
retries            the machinery failed its run every time: once it is fixed, ``dossier requeue``
cancelled          a person cancelled its run: ``dossier requeue`` runs it again
room               the room's configuration was invalid: correct it, then ``dossier requeue``
unexpected         an error nobody foresaw: tell an administrator; once fixed, ``dossier requeue``
duplicate          the same files as a batch handled before: nothing to do (that one's reason says what to do)
=================  ==================================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from pipeline.common import utcnow
from pipeline.errors import ExitCode, ReviewTimedOut, VolumeError, machine_fault
from pipeline.messages import N_, say


class ReasonKind(StrEnum):
    """What kind of failure quarantined a batch; it decides the advice."""

    BAD_INPUT = "bad-input"
    NOT_ALLOWED = "not-allowed"
    REFUSED = "refused"
    DECISION = "decision"
    REVIEW_TIMEOUT = "review-timeout"
    VOLUMES = "volumes"
    RETRIES = "retries"
    CANCELLED = "cancelled"
    ROOM = "room"
    UNEXPECTED = "unexpected"
    DUPLICATE = "duplicate"


_WHAT = {
    ReasonKind.BAD_INPUT: N_("A file of the batch cannot be used"),
    ReasonKind.NOT_ALLOWED: N_("The room may not publish this batch"),
    ReasonKind.REFUSED: N_("Publishing was refused"),
    ReasonKind.DECISION: N_("A person must decide first"),
    ReasonKind.REVIEW_TIMEOUT: N_("Nobody reviewed the 卷内目录 in time"),
    ReasonKind.VOLUMES: N_("Volumes could not be built or failed their checks"),
    ReasonKind.RETRIES: N_("The run failed every time it was tried"),
    ReasonKind.CANCELLED: N_("The run was cancelled"),
    ReasonKind.ROOM: N_("The room's configuration is invalid"),
    ReasonKind.UNEXPECTED: N_("An unexpected error stopped the batch"),
    ReasonKind.DUPLICATE: N_("The same files were dropped before"),
}


@dataclass(frozen=True)
class Reason:
    """Why a batch is quarantined: its kind, the people's words, what to do next, and the technical detail."""

    kind: ReasonKind
    what: str
    advice: str
    detail: str

    @property
    def line(self) -> str:
        """One line for the ledger and the logs."""
        return say(N_("{what}: {detail}"), what=self.what, detail=self.detail)


def advice_for(kind: ReasonKind, room: str, batch: str, case_no: str = "", file: str | None = None,
               first: str = "", requeue: str | None = None, rerun: str | None = None) -> str:
    """What to do next for a kind of failure, naming the command that works for it (``requeue``, ``rerun``: how
    the reader does it where they read it, e.g. a button of the operators' desk; default the CLI's commands)."""
    requeue = requeue or f"dossier requeue {room}/{batch} --by <姓名>"
    if kind is ReasonKind.BAD_INPUT:
        if file:
            return say(N_("correct {file} (rescan it if it is a page), then drop the whole batch into {room}/ again"),
                       file=file, room=room)
        return say(N_("correct the batch as the detail says, then drop the whole batch into {room}/ again"), room=room)
    if kind is ReasonKind.NOT_ALLOWED:
        return say(N_("if the batch is right, an administrator allows its agency or case number for room {room} in "
                      "the rooms file, then: {command}; if batch.json is wrong, correct it and drop the batch again"),
                   room=room, command=requeue)
    if kind is ReasonKind.REFUSED:
        return say(N_("check the case number; once an administrator has resolved the refusal: {command}"),
                   command=requeue)
    if kind is ReasonKind.DECISION:
        return say(N_("look at the pages named in the detail, correct them (e.g. print the separator sheet again) and "
                      "drop the whole batch into {room}/ again"), room=room)
    if kind is ReasonKind.VOLUMES:
        return say(N_("once the cause in the detail is fixed: {command} (it builds only what failed)"),
                   command=rerun or (f"dossier rerun '{case_no}'" if case_no else "dossier rerun <案号>"))
    if kind is ReasonKind.DUPLICATE:
        return say(N_("nothing to do: these files were handled as batch {first}; see what it says"), first=first)
    if kind is ReasonKind.UNEXPECTED:
        return say(N_("tell an administrator (with this file); once it is fixed: {command}"), command=requeue)
    if kind is ReasonKind.ROOM:
        return say(N_("correct room.yaml of room {room} (or the rooms file), then: {command}"), room=room,
                   command=requeue)
    if kind is ReasonKind.REVIEW_TIMEOUT:
        return say(N_("to run it again and review it this time: {command}"), command=requeue)
    return say(N_("once the cause is fixed: {command}"), command=requeue)


DROP_AGAIN = frozenset({ReasonKind.BAD_INPUT, ReasonKind.DECISION, ReasonKind.DUPLICATE})
"""Kinds a requeue cannot resolve: the files must be corrected and the batch dropped again (bad input, a person's
decision about its pages), or it is a copy of a batch handled before; their advice names no command."""


def requeue_helps(kind: str) -> bool:
    """Whether putting a batch quarantined for this kind of reason back as it was dropped can resolve it (a reason
    recorded before its kind was known: yes, as before)."""
    return kind not in DROP_AGAIN


def reason(kind: ReasonKind, detail: str, room: str, batch: str, case_no: str = "", file: str | None = None,
           first: str = "") -> Reason:
    """A quarantine reason of a kind, with its advice."""
    return Reason(kind, say(_WHAT[kind]), advice_for(kind, room, batch, case_no, file, first), detail)


def reason_parts(kind: str, line: str) -> tuple[str, str]:
    """A stored reason (:attr:`Reason.line`) as the people's words of its kind and the technical detail; ("", line)
    for a kind not known."""
    try:
        what = say(_WHAT[ReasonKind(kind)])
    except ValueError:
        return "", line
    prefix = say(N_("{what}: {detail}"), what=what, detail="")
    return what, line.removeprefix(prefix) if line != what else ""


def kind_of_error(exc: BaseException) -> ReasonKind:
    """The reason kind of an error that is the batch's fault (see :func:`pipeline.errors.machine_fault`)."""
    if isinstance(exc, ReviewTimedOut):
        return ReasonKind.REVIEW_TIMEOUT
    code = getattr(exc, "exit_code", None)
    if code == ExitCode.BAD_INPUT:
        return ReasonKind.BAD_INPUT
    if code == ExitCode.REFUSED:
        return ReasonKind.REFUSED
    if code == ExitCode.REVIEW_NEEDED:
        return ReasonKind.DECISION
    if code == ExitCode.VERIFICATION_FAILED or (isinstance(exc, VolumeError) and machine_fault(exc) is None):
        return ReasonKind.VOLUMES
    return ReasonKind.UNEXPECTED


def local_time(when: datetime | None, zone: tzinfo | None) -> str:
    """A moment as people read it: local date and time with the zone's offset."""
    moment = (when or utcnow()).astimezone(zone) if zone else (when or utcnow())
    return moment.isoformat(timespec="seconds")


def reason_text(room: str, batch: str, case_no: str, why: Reason, fingerprint: str, run_id: str | None,
                zone: tzinfo | None) -> str:
    """The content of ``reason.txt``: the people's words and what to do first, then the technical record."""
    return "\n".join([
        say(N_("Batch:        {room}/{batch}"), room=room, batch=batch),
        say(N_("Case number:  {case_no}"), case_no=case_no or say(N_("(unknown)"))),
        say(N_("Why:          {what}"), what=why.what),
        say(N_("What to do:   {advice}"), advice=why.advice),
        "",
        say(N_("Detail:       {detail}"), detail=why.detail),
        say(N_("Reason kind:  {kind}"), kind=why.kind.value),
        say(N_("Fingerprint:  {fingerprint}"), fingerprint=fingerprint),
        say(N_("Flow run:     {run}"), run=run_id or "-"),
        say(N_("Quarantined:  {when}"), when=local_time(None, zone)),
    ])

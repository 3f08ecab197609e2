"""What operators see of their batches: one state per batch (``dossier status --json``, the operators' desk), and
the history of one case (``dossier status 案号 --json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import Contract

BatchState = Literal["arriving", "waiting", "claimed", "running", "review", "retrying", "held", "published",
                     "quarantined", "requeued"]
"""arriving: still being dropped; waiting: complete, not taken yet (why: ``reason``); claimed: taken, its run not
started; running; review: its run waits for a person to review the 卷内目录; retrying: run again after the machinery
failed it; held: waits for a part of the machine (``reason``); published; quarantined (what to do: ``next_step``);
requeued: put back into its room by an operator."""


class BatchStatus(Contract):
    """One batch, where it is now."""

    room: str
    batch: str = Field(description="the folder's name where it is now (a name taken twice gets ~2, ~3…)")
    case_no: str = ""
    state: BatchState
    label: str = Field(description="the state in the reader's language, e.g. 等待：对象存储不可用")
    since: datetime = Field(description="when it entered this state (UTC)")
    since_local: str = Field(description="the same moment in the configured time zone, as people read it")
    reason: str = Field(default="", description="why it waits, is held or was quarantined")
    reason_kind: str = Field(default="", description="the kind of a quarantine reason (pipeline.operations "
                                                     "ReasonKind); empty: none or not known")
    next_step: str = Field(default="", description="what to do next (a command that works for it); empty: nothing")
    run_id: str | None = None
    attempts: int = Field(default=0, description="times its run was run again after the machinery failed it")
    where: str = Field(default="", description="the folder it is in now")


class WatcherSummary(Contract):
    """The watcher of the state folder, as it last reported."""

    running: bool
    at: datetime | None = None
    hotfolder: str = ""
    machine: str | None = Field(default=None, description="the part of the machine it waits for (store, key, …)")
    machine_message: str = ""


class StatusReport(Contract):
    """Every batch an operator may need to know about, newest first."""

    generated_at: datetime
    timezone: str
    language: str
    watcher: WatcherSummary
    batches: list[BatchStatus] = Field(default_factory=list)


class HistoryEvent(Contract):
    """One thing that happened to a case: a try of one of its batches, a run, a review, a publication."""

    at: datetime
    at_local: str
    kind: Literal["try", "run", "review", "publication"]
    code: str = Field("", description="a try's event code (pipeline.operations.EventCode, e.g. claimed, submitted, "
                                      "settled; legacy: an old free-text record), for programs; '' for the others")
    what: str = Field(description="in the reader's language, with the technical detail after it")
    batch: str = ""
    run_id: str | None = None


class CaseHistory(Contract):
    """The history of one case, oldest first."""

    case_no: str
    generated_at: datetime
    timezone: str
    events: list[HistoryEvent] = Field(default_factory=list)
    batches: list[BatchStatus] = Field(default_factory=list, description="its batches as they are now")

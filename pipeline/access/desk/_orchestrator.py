"""What the desk asks of the workflow engine (Prefect, wired in by the edges: the library never imports it): whether
a run waits for a review and where, resuming it with a reviewer's answer, starting a rerun or a reprocessing, and
the address of a run in the engine's own UI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from pipeline.errors import DossierError, ExitCode, NotFoundError

_PAUSE = re.compile(r"review-volume-(\d+)-(\d+)")


class OrchestratorUnavailable(DossierError):
    """The workflow engine did not answer (the desk says so; nothing was done)."""

    exit_code = ExitCode.UNAVAILABLE


class NotWaiting(NotFoundError):
    """The run no longer waits where the reviewer thought (someone else answered, it timed out, it was cancelled)."""


@dataclass(frozen=True)
class Pause:
    """A run paused for the 卷内目录 review of one volume: its pause key (``review-volume-<N>-<attempt>``)."""

    run_id: str
    key: str

    @property
    def volume(self) -> int | None:
        """The volume the pause is for, from its key (None for a pause that is not a review's)."""
        found = _PAUSE.fullmatch(self.key)
        return int(found.group(1)) if found else None


class Orchestrator(Protocol):
    """The workflow engine as the desk uses it."""

    def pause_of(self, run_id: str) -> Pause | None:
        """Where the run waits, or None when it does not wait for a review."""

    def resume(self, run_id: str, answer: dict) -> None:
        """Resume the paused run with the reviewer's answer (NotWaiting when it no longer waits)."""

    def rerun(self, case_no: str, volumes: list[int], batch_id: str | None, room: str) -> str:
        """Start a rerun of a case's volumes (none: whichever failed); returns the new run's id."""

    def reprocess(self, case_no: str, profile: str | None, room: str) -> str:
        """Start rebuilding a published case under a standard profile; returns the new run's id."""

    def run_link(self, run_id: str) -> str | None:
        """The run's page in the engine's UI, if there is one."""

"""What a running watcher tells the others (``dossier status``, the operators' desk): that it is alive, the part of
the machine it waits for, and why each batch it saw still waits in its room. One small JSON file in the state folder,
written atomically every few seconds."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from pipeline.common import utcnow, write_atomic
from pipeline.settings import StateLayout

STATE_NAME = "watcher.json"
ALIVE_SECONDS = 60.0
"""A watcher whose state is older than this is taken for stopped."""


class WatcherState(BaseModel):
    """A watcher's last word."""

    hotfolder: str
    pid: int = Field(default_factory=os.getpid)
    host: str = Field(default_factory=socket.gethostname)
    at: datetime = Field(default_factory=utcnow)
    machine: str | None = Field(default=None, description="the part of the machine it waits for (store, key, …)")
    machine_message: str = ""
    waiting: dict[str, str] = Field(default_factory=dict, description="room/batch -> why it is not claimed yet")

    def alive(self, now: datetime | None = None) -> bool:
        """Whether it spoke recently enough to be running."""
        return ((now or utcnow()) - self.at).total_seconds() <= ALIVE_SECONDS


def watcher_state_path(home: Path) -> Path:
    """Where the watcher of a state folder writes its state."""
    return StateLayout(Path(home)).ledger.parent / STATE_NAME


def write_watcher_state(path: Path, state: WatcherState) -> None:
    """Write the state (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, state.model_dump_json(indent=2).encode("utf-8"))


def read_watcher_state(home: Path) -> WatcherState | None:
    """The last state a watcher of this state folder wrote, or None."""
    try:
        return WatcherState.model_validate_json(watcher_state_path(home).read_bytes())
    except (OSError, ValidationError):
        return None

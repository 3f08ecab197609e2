"""Hot folders: rooms, completeness, claims exactly once, the ledger, settling into done/ or quarantine/ (no Prefect here)."""

from pipeline.operations._hotfolder import (
    HotFolder,
    HotFolderError,
    Intake,
    Ledger,
    LedgerEntry,
    RoomConfig,
    RunStatus,
    Submission,
    SubmitUnavailable,
    settle_after_rerun,
)

__all__ = [
    "HotFolder",
    "HotFolderError",
    "Intake",
    "Ledger",
    "LedgerEntry",
    "RoomConfig",
    "RunStatus",
    "Submission",
    "SubmitUnavailable",
    "settle_after_rerun",
]

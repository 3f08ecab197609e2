"""Hot folders: rooms, completeness, claims exactly once, the ledger, settling into done/ or quarantine/ (no
Prefect here)."""

from pipeline.operations._folders import HotFolder, HotFolderError
from pipeline.operations._intake import Intake, RunStatus, Submission, SubmitUnavailable
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._rooms import RoomConfig
from pipeline.operations._settle import settle_after_rerun

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

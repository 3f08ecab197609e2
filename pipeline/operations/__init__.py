"""Hot folders: rooms bound to their agencies by an administrator, completeness, claims exactly once (hostile
batches refused at the door), the ledger, settling into done/ or quarantine/ (no Prefect here)."""

from pipeline.operations._fingerprint import fingerprint
from pipeline.operations._folders import HotFolder, HotFolderError
from pipeline.operations._intake import Intake, RunStatus, Submission, SubmitUnavailable, check_claim
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._rooms import RoomBinding, RoomConfig, RoomPolicy, RoomsFile, load_rooms_file
from pipeline.operations._settle import settle_after_rerun

__all__ = [
    "HotFolder",
    "HotFolderError",
    "Intake",
    "Ledger",
    "LedgerEntry",
    "RoomBinding",
    "RoomConfig",
    "RoomPolicy",
    "RoomsFile",
    "RunStatus",
    "Submission",
    "SubmitUnavailable",
    "check_claim",
    "fingerprint",
    "load_rooms_file",
    "settle_after_rerun",
]

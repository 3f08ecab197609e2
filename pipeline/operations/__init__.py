"""Hot folders: rooms bound to their agencies by an administrator, completeness, claims exactly once (hostile
batches refused at the door), the ledger, settling into done/ or quarantine/ with a reason that says what to do
next, runs held while the machine is not ready, requeues, and the operators' view of it all (no Prefect here)."""

from pipeline.operations._events import EventCode, LedgerEvent, event_words, legacy_event
from pipeline.operations._fingerprint import fingerprint
from pipeline.operations._folders import HotFolder, HotFolderError
from pipeline.operations._intake import Intake, check_claim
from pipeline.operations._ledger import Ledger, LedgerEntry, RunFault, entry_files
from pipeline.operations._names import room_name
from pipeline.operations._reasons import DROP_AGAIN, Reason, ReasonKind, advice_for, reason_parts, requeue_helps
from pipeline.operations._requeue import find_quarantined, requeue
from pipeline.operations._rooms import (
    RoomBinding,
    RoomConfig,
    RoomPolicy,
    RoomsFile,
    RoomsFileError,
    load_rooms_file,
)
from pipeline.operations._runs import (
    MachineCheck,
    MachineProblem,
    RunStatus,
    Submission,
    SubmitUnavailable,
    record_run_fault,
    unavailable_words,
)
from pipeline.operations._settle import settle_after_rerun
from pipeline.operations._status import (
    RunView,
    case_history,
    entry_status,
    event_kind_words,
    run_kind_words,
    run_state_words,
    status_report,
)
from pipeline.operations._watcher_state import WatcherState, read_watcher_state, watcher_state_path

__all__ = [
    "DROP_AGAIN",
    "EventCode",
    "LedgerEvent",
    "event_words",
    "legacy_event",
    "HotFolder",
    "HotFolderError",
    "Intake",
    "Ledger",
    "LedgerEntry",
    "MachineCheck",
    "MachineProblem",
    "Reason",
    "ReasonKind",
    "RoomBinding",
    "RoomConfig",
    "RoomPolicy",
    "RoomsFile",
    "RoomsFileError",
    "RunFault",
    "RunStatus",
    "RunView",
    "Submission",
    "SubmitUnavailable",
    "WatcherState",
    "check_claim",
    "fingerprint",
    "find_quarantined",
    "advice_for",
    "reason_parts",
    "case_history",
    "entry_files",
    "entry_status",
    "event_kind_words",
    "load_rooms_file",
    "read_watcher_state",
    "record_run_fault",
    "requeue",
    "requeue_helps",
    "run_kind_words",
    "run_state_words",
    "room_name",
    "settle_after_rerun",
    "status_report",
    "unavailable_words",
    "watcher_state_path",
]

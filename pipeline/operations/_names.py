"""Names the hot folder reserves, and its error."""

from __future__ import annotations

from pipeline.capture import MANIFEST_NAME, READY_MARKER
from pipeline.errors import DossierError

PROCESSING = ".processing"
DONE = "done"
QUARANTINE = "quarantine"
ROOM_CONFIG = "room.yaml"
REASON_FILE = "reason.txt"
RESERVED = {PROCESSING, DONE, QUARANTINE}
NOT_PAGES = {READY_MARKER, MANIFEST_NAME, REASON_FILE}


class HotFolderError(DossierError):
    """A hot folder, room configuration or ledger entry is unusable."""

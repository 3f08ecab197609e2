"""Names the hot folder reserves, and its error."""

from __future__ import annotations

import re
import unicodedata

from pipeline.capture import MANIFEST_NAME, READY_MARKER
from pipeline.errors import BadInputError, DossierError

PROCESSING = ".processing"
DONE = "done"
QUARANTINE = "quarantine"
ROOM_CONFIG = "room.yaml"
REASON_FILE = "reason.txt"
RESERVED = {PROCESSING, DONE, QUARANTINE}
NOT_PAGES = {READY_MARKER, MANIFEST_NAME, REASON_FILE}


class HotFolderError(DossierError):
    """A hot folder, room configuration or ledger entry is unusable."""


_ROOM = re.compile(r"[\w.-]{1,64}")


def room_name(name: str) -> str:
    """A room's name as the hot folder has it (its folder): NFKC, 1-64 letters, digits or ``._-``, not hidden or
    reserved; BadInputError otherwise."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not _ROOM.fullmatch(text) or text.startswith((".", "_")) or text in RESERVED:
        raise BadInputError(f"room name {name!r}: use 1-64 letters, digits or . _ - (not starting with . or _, "
                            f"not {', '.join(sorted(RESERVED))})")
    return text

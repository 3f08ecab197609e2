"""A batch's identity: its room, name and every file's path, size and SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.capture import READY_MARKER, sha256_regular
from pipeline.models import InputPolicy
from pipeline.operations._names import REASON_FILE
from pipeline.operations._readiness import snapshot

# Left out of the fingerprint: a READY marker's content means nothing, reason.txt is ours.
NOT_FINGERPRINTED = {READY_MARKER, REASON_FILE}
DEFAULT_MAX_FILE_BYTES = InputPolicy().max_file_bytes



def fingerprint(room: str, batch: str, batch_dir: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """SHA-256 over room, batch name and every file's relative path, size and SHA-256 (READY and reason.txt left
    out): the same batch dropped twice has the same fingerprint. Only regular files of at most ``max_file_bytes``
    are read (the batch was inspected before; a file swapped for a pipe or a link since is refused, by name)."""
    h = hashlib.sha256(f"dossier-batch/1\0{room}\0{batch}\0".encode())
    for rel in sorted(snapshot(batch_dir)):
        if rel in NOT_FINGERPRINTED:
            continue
        digest, size = sha256_regular(batch_dir / rel, max_file_bytes)
        h.update(f"{rel}\0{size}\0{digest}\n".encode())
    return h.hexdigest()


def idempotency_key(fp: str, requeued: int = 0) -> str:
    """The flow-run idempotency key of a batch fingerprint (deliberate reprocessing uses a different key); a batch
    put back in its room by ``dossier requeue`` for the n-th time gets a key of its own, so that its run is new."""
    return f"dossier-batch-{fp}" + (f"-requeued-{requeued}" if requeued else "")

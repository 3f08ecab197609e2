"""What a run may do with its batch, decided before any page is processed, and checked again before publishing.

- The owner: a hot-folder batch belongs to the agency the administrator bound its room to (batch.json may only
  name another agency of that room); a batch run by hand belongs to the agency its batch.json names; a reprocessed
  dossier keeps its owner. Grants never come from the batch.
- A run that signs is refused up front when no signing key is configured (outside the demo); a publishing run also
  when the bucket may not hold the batch's security level or the case is published by another agency.
- The batch must still be the one that was claimed: its fingerprint is taken at ingest (and compared with the
  watcher's) and taken again right before publishing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.dossier._dossier import require_owner
from pipeline.errors import BadInputError, RefusedError
from pipeline.models import BatchManifest, StandardProfile
from pipeline.operations import RoomPolicy, fingerprint
from pipeline.settings import Settings
from pipeline.storage import StoreConfig

log = logging.getLogger("dossier.admission")


@dataclass(frozen=True)
class Admission:
    """Who started the run decides these: the watcher (a room's policy and the claim's fingerprint), the command
    line (nothing: batch.json is trusted as the administrator's), or a reprocessing (the published owner)."""

    policy: RoomPolicy | None = None
    fingerprint: str | None = None  # the fingerprint the batch must still have (the watcher's claim, a rerun's run)
    owner: str | None = None  # the owner to keep (reprocessing, reruns)
    room: str = ""  # the room the batch came from ('' for a batch run by hand), part of its fingerprint

    @classmethod
    def of_room(cls, policy: RoomPolicy | None, fingerprint: str | None) -> Admission:
        """A hot-folder batch's admission: its room's policy and the claim's fingerprint."""
        return cls(policy=policy, fingerprint=fingerprint, room=policy.room if policy else "")


def admit(manifest: BatchManifest, admission: Admission) -> BatchManifest:
    """The batch manifest as the run uses it: its agency set to the dossier's owner, grants emptied."""
    if admission.owner is not None:
        owner = admission.owner
        if admission.policy is not None:
            admission.policy.owner_of(manifest)
    elif admission.policy is not None:
        owner = admission.policy.owner_of(manifest)
    else:
        owner = manifest.agency.strip()
    if not owner:
        raise BadInputError(f"batch {manifest.case_no}: no agency owns it (batch.json names none, no --agency was "
                            f"given and it came from no room): a dossier nobody owns is never published", "batch.json")
    if manifest.grants:
        log.warning("batch.json lists grants (%s): ignored, an administrator grants access with 'dossier grant'",
                    ", ".join(manifest.grants))
    return manifest.model_copy(update={"agency": owner, "grants": []})


def require_publishable(manifest: BatchManifest, settings: Settings, home: Path) -> None:
    """Refuse a publishing run before any page work: a security level above the bucket's, or a case another agency
    has published."""
    store = StoreConfig.from_settings(settings.store, home)
    if not store.allows(manifest.security_level):
        raise RefusedError(f"case {manifest.case_no} is {manifest.security_level!r}; bucket {store.bucket} may hold at "
                           f"most {store.max_security_level!r}: refused before any page was processed")
    require_owner(store, manifest.case_no, manifest.agency)


def seal(batch_dir: Path, batch_id: str, admission: Admission, profile: StandardProfile) -> str:
    """The batch's fingerprint now; when the watcher claimed it, it must be the claim's (BadInputError otherwise)."""
    now = fingerprint(admission.room, batch_id, batch_dir, profile.input.max_file_bytes)
    if admission.fingerprint and now != admission.fingerprint:
        raise BadInputError(f"batch {batch_id} is no longer what was claimed (its files changed after the claim: "
                            f"fingerprint {now[:16]}, claimed {admission.fingerprint[:16]}): refused")
    return now


def require_unchanged(batch_dir: Path, batch_id: str, admission: Admission, profile: StandardProfile,
                      sealed: str) -> None:
    """Right before publishing: the batch's files must be exactly those the run started from."""
    now = fingerprint(admission.room, batch_id, batch_dir, profile.input.max_file_bytes)
    if now != sealed:
        raise BadInputError(f"batch {batch_id} changed while it was processed (fingerprint {now[:16]}, at ingest "
                            f"{sealed[:16]}): not published")

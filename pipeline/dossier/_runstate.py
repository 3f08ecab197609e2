"""What a run leaves in its work folder so that a rerun can finish it: ``run.json`` and one record per built volume.

``<state>/work/<case-key>/<batch-id>/``::

    run.json                   the batch, profile, status and the dossier's creation time of the latest run
    volumes/NNN.pdf            volumes built so far (what gets published)
    state/volume-NNN.json      for each built volume: the digest of its inputs and its manifest entry
    contact/volume-NNN.png     contact sheets

A volume is reused by a later run when the digest of its inputs (plan, cover data, page records, profile, pipeline
version) is the same and the PDF still has the SHA-256 recorded for it; anything else is built again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline import __version__
from pipeline.assembly import VolumeContext
from pipeline.common import ParsedFiles, files_below, sha256_file, utcnow_seconds, write_atomic
from pipeline.models import StandardProfile, VolumeEntry, volume_key
from pipeline.pages import PageArtifact
from pipeline.storage import case_key
from pipeline.structure import VolumePlan

RUN_FILE = "run.json"

RunPhase = Literal["running", "review", "failed", "built", "published"]
"""Where the latest run of a batch stands (``run.json``'s ``status``)."""


class RunRecord(BaseModel):
    """The latest run of one batch of one case."""

    model_config = ConfigDict(extra="ignore")

    case_no: str
    case_key: str
    batch_id: str
    batch_dir: str = Field(description="where the batch was read from")
    profile: str | None = Field(default=None, description="profile as given (built-in name or YAML path)")
    profile_key: str = ""
    kind: Literal["process", "rerun", "reprocess"] = "process"
    status: RunPhase = "running"
    flow_run_id: str | None = None
    created: datetime | None = Field(default=None, description="the dossier's creation time stamped in its volumes")
    started: datetime = Field(default_factory=utcnow_seconds)
    updated: datetime = Field(default_factory=utcnow_seconds)
    volumes: int = 0
    pages: int = 0
    failed_volumes: list[int] = Field(default_factory=list)
    error: str = ""
    manifest_version: str | None = None
    publish: bool = True
    review: str | None = Field(default=None, description="review mode asked for (--review, room.yaml); None: profile's")
    review_volumes: list[int] = Field(default_factory=list, description="volumes waiting for a 卷内目录 review")
    api_url: str | None = Field(default=None, description="the Prefect API the run reports to (a paused run's "
                                "review is sent there)")
    owner: str = Field(default="", description="the agency owning the dossier (the room's, batch.json's or kept)")
    room: str = Field(default="", description="the hot-folder room the batch came from")
    fingerprint: str = Field(default="", description="the batch's fingerprint when the run started")


def work_folder(home: Path, case_no: str, batch_id: str) -> Path:
    """The local dossier folder of a case's batch."""
    return home / "work" / case_key(case_no) / batch_id


def load_run(folder: Path) -> RunRecord | None:
    """The run record of a work folder, or None."""
    try:
        return RunRecord.model_validate_json((folder / RUN_FILE).read_bytes())
    except (OSError, ValidationError):
        return None


def save_run(folder: Path, record: RunRecord, **changes) -> RunRecord:
    """Write the run record (with changes applied and ``updated`` stamped) atomically."""
    record = record.model_copy(update={**changes, "updated": utcnow_seconds()})
    write_atomic(folder / RUN_FILE, record.model_dump_json(indent=2).encode("utf-8"))
    return record


def find_runs(home: Path, case_no: str | None = None,
              files: ParsedFiles[RunRecord] | None = None) -> list[tuple[Path, RunRecord]]:
    """Run records under the state folder (of one case when given), most recently updated first; with ``files``
    (kept by the caller between calls) only the records that changed are read again."""
    base = home / "work"
    paths = files_below(base / case_key(case_no), 2, RUN_FILE) if case_no else files_below(base, 3, RUN_FILE)
    if files is None:
        found = [(p.parent, r) for p in map(Path, paths) if (r := load_run(p.parent)) is not None]
    else:
        found = [(_folder_of(p), r) for p, r in files.read(paths)]
    return sorted(found, key=lambda fr: fr[1].updated, reverse=True)


@functools.lru_cache(maxsize=65536)
def _folder_of(path: Path) -> Path:
    """A record's work folder (the same Path object each time a cached record's file is seen again)."""
    return path.parent


def run_files() -> ParsedFiles[RunRecord]:
    """A reader of run records that parses each again only when it changed (for :func:`find_runs`)."""
    return ParsedFiles(RunRecord.model_validate_json)


CONTEXT_NOT_DIGESTED = frozenset({
    "prepared_on",  # the date the volume is prepared on: a rerun on another day reuses it
    "number", "of", "pipeline_version",  # digested as the plan's and as "pipeline"
})
"""The fields of :class:`~pipeline.assembly.VolumeContext` a volume's input digest leaves out; every other field,
including one added later, is part of it."""


def _as_json(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (tuple, list)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def volume_input_digest(plan: VolumePlan, context: VolumeContext, pages: Mapping[int, PageArtifact],
                        profile: StandardProfile) -> str:
    """SHA-256 of everything a volume is built from, except the date it is prepared on."""
    data = {
        "pipeline": __version__,
        "profile": profile.model_dump(mode="json"),
        "plan": {"number": plan.number, "of": plan.of,
                 "parts": [[p.document, list(p.positions), p.continued] for p in plan.parts]},
        "context": {f.name: _as_json(getattr(context, f.name)) for f in fields(context)
                    if f.name not in CONTEXT_NOT_DIGESTED},
        "pages": [{"record": pages[p].record.model_dump(mode="json"),
                   "image": pages[p].image_path.name if pages[p].image_path else None,
                   "image_folder": pages[p].image_path.parent.name if pages[p].image_path else None,
                   "ocr": bool(pages[p].ocr_path)} for p in plan.positions],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _volume_state_path(folder: Path, number: int) -> Path:
    return folder / "state" / f"volume-{number:03d}.json"


def save_volume(folder: Path, number: int, digest: str, entry: VolumeEntry) -> None:
    """Record a built volume."""
    data = {"input_sha256": digest, "entry": entry.model_dump(mode="json")}
    write_atomic(_volume_state_path(folder, number), json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def reusable_volume(folder: Path, number: int, digest: str) -> VolumeEntry | None:
    """The entry of a volume built earlier from the same inputs whose PDF is intact, else None."""
    try:
        data = json.loads(_volume_state_path(folder, number).read_text(encoding="utf-8"))
        entry = VolumeEntry.model_validate(data["entry"])
    except (OSError, ValueError, KeyError, ValidationError):
        return None
    if data.get("input_sha256") != digest:
        return None
    pdf = folder / entry.key
    if not pdf.is_file() or pdf.stat().st_size != entry.bytes or sha256_file(pdf) != entry.sha256:
        return None
    return entry


def forget_volume(folder: Path, number: int) -> None:
    """Remove a volume's PDF and record before it is built again (a half-built one must never be reused)."""
    _volume_state_path(folder, number).unlink(missing_ok=True)
    (folder / volume_key(number)).unlink(missing_ok=True)


def drop_volumes_beyond(folder: Path, count: int) -> list[int]:
    """Remove volumes numbered above ``count`` (left by an earlier plan with more volumes); returns their numbers."""
    dropped = []
    for pdf in sorted((folder / "volumes").glob("*.pdf")):
        try:
            number = int(pdf.stem)
        except ValueError:
            continue
        if number > count:
            forget_volume(folder, number)
            dropped.append(number)
    return dropped

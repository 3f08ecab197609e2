"""What a run leaves in its work folder for people to look at while it runs, read by the operators' desk:

``<state>/work/<case-key>/<batch-id>/``::

    pages.json                 where each page of the batch is in the page cache, its flags and place in the volumes
    progress.json              pages imaged and OCRed, volumes built, of how many
    review/volume-NNN.json     a volume's 卷内目录 waiting for review, with the region of each field in doubt
    review/corrections.json    what the reviewers confirmed and corrected (a rerun applies it again, not asking)

The desk serves page images only through these records (a page cache key and a file name it knows), never a path
taken from a request. A run that cannot write them still runs: they are for looking, not for the dossier.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from pipeline.common import utcnow, write_atomic
from pipeline.messages import N_, say
from pipeline.models import CatalogueCorrection, CatalogueEntry, VolumeCatalogue
from pipeline.ocr import read_ocr_result
from pipeline.pages import PageArtifact, PageCache
from pipeline.structure import FIELDS, LABELS, Document, PageLayout, entry_in_doubt, field_region

PAGES_FILE = "pages.json"
PROGRESS_FILE = "progress.json"
REVIEW_FOLDER = "review"
CORRECTIONS_FILE = "review/corrections.json"
IMAGE_NAMES = frozenset({"image.tif", "image.jpg", "grey.jpg", "image.thumb.png"})
"""The files of a page cache folder the desk may show."""
_KEY = re.compile(r"[0-9a-f]{64}")


class PageImage(BaseModel):
    """One page of a batch as the desk shows it: where it came from, where its images are, what was noticed."""

    position: int
    file: str
    index: int = 0
    key: str = Field(default="", description="page cache key; empty when the page was not processed")
    image: str = Field(default="", description="archival image's file name in the key's folder; empty: none")
    grey: str = ""
    width: int = 0
    height: int = 0
    volume: int | None = None
    page: int | None = None
    blank: bool = False
    separator: bool = False
    flags: list[str] = Field(default_factory=list)


class PageIndex(BaseModel):
    """Every page of a batch, in scan order."""

    pages: list[PageImage] = Field(default_factory=list)
    written: datetime = Field(default_factory=utcnow)


class FieldRegion(BaseModel):
    """Where a field is printed: the page (batch position), the box in its image's pixels, and whether it is the
    line the value was read from (else the part of the page where the field is printed)."""

    position: int
    box: tuple[int, int, int, int]
    located: bool


class ReviewSheet(BaseModel):
    """A volume's 卷内目录 as the paused run shows it to a reviewer: the rows, the regions of the fields in doubt
    (by 顺序号, then field) and the pages they are on."""

    case_no: str
    volume: int
    of: int
    run_id: str | None = None
    entries: list[CatalogueEntry]
    regions: dict[int, dict[str, FieldRegion]] = Field(default_factory=dict)
    pages: dict[int, PageImage] = Field(default_factory=dict)
    written: datetime = Field(default_factory=utcnow)


def page_image(artifact: PageArtifact) -> PageImage:
    """The desk's record of a processed page."""
    r = artifact.record
    path = artifact.image_path
    return PageImage(position=artifact.position, file=r.source.file, index=r.source.index,
                     key=path.parent.name if path else "", image=path.name if path else "",
                     grey=artifact.grey_path.name if artifact.grey_path else "", width=artifact.width,
                     height=artifact.height, volume=r.volume, page=r.page, blank=r.blank, separator=r.separator,
                     flags=list(r.flags))


def save_page_index(folder: Path, pages: Sequence[PageImage]) -> None:
    """Record where the batch's pages are (``pages.json``)."""
    index = PageIndex(pages=sorted(pages, key=lambda p: p.position))
    write_atomic(folder / PAGES_FILE, index.model_dump_json().encode("utf-8"))


def _read(path: Path, model: type[BaseModel]):
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def load_page_index(folder: Path) -> PageIndex | None:
    """The batch's pages as its last run recorded them, or None."""
    return _read(folder / PAGES_FILE, PageIndex)


def page_file(cache_root: Path, key: str, name: str) -> Path | None:
    """A page image in the page cache, only by a key and a name the desk knows; None for anything else."""
    if not _KEY.fullmatch(key or "") or name not in IMAGE_NAMES:
        return None
    path = PageCache(cache_root).folder(key) / name
    return path if path.is_file() else None


class StageProgress(BaseModel):
    """One stage's count."""

    total: int = 0
    done: int = 0


class RunProgress(BaseModel):
    """How far a run is: per stage (pages, ocr, volumes)."""

    stages: dict[str, StageProgress] = Field(default_factory=dict)
    updated: datetime = Field(default_factory=utcnow)


class ProgressFile:
    """A progress listener (``listener(stage, event, n)``) that keeps ``progress.json`` current, written at most every
    ``every`` seconds and whenever a total is set."""

    def __init__(self, folder: Path, every: float = 1.0):
        self.path, self.every = folder / PROGRESS_FILE, every
        self.progress = RunProgress()
        self._lock = threading.Lock()
        self._written = 0.0

    def __call__(self, stage: str, event: str, n: int = 1) -> None:
        """Count progress; write the file when due."""
        with self._lock:
            count = self.progress.stages.setdefault(stage, StageProgress())
            if event == "total":
                count.total, count.done = n, 0
            else:
                count.done += n
            due = event == "total" or time.monotonic() - self._written >= self.every \
                or (count.total and count.done >= count.total)
            if due:
                self._write()

    def _write(self) -> None:
        self.progress.updated = utcnow()
        try:
            write_atomic(self.path, self.progress.model_dump_json().encode("utf-8"))
        except OSError:  # a full disk fails the run elsewhere; progress is only for looking
            return
        self._written = time.monotonic()


def load_progress(folder: Path) -> RunProgress | None:
    """The run's progress as last written, or None."""
    return _read(folder / PROGRESS_FILE, RunProgress)


def _layout(artifact: PageArtifact | None) -> PageLayout | None:
    if artifact is None or artifact.ocr_path is None:
        return None
    try:
        result = read_ocr_result(artifact.ocr_path, f"page {artifact.position + 1}")
    except Exception:  # noqa: BLE001 - a region without its line is still shown (where the field is printed)
        return None
    return PageLayout(result) if result is not None else None


def _grey(artifact: PageArtifact | None) -> np.ndarray | None:
    """A page reduced four times in grey (where its print is found without OCR)."""
    path = artifact.grey_path or artifact.image_path if artifact is not None else None
    if path is None:
        return None
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L").reduce(4))
    except OSError:
        return None


def review_sheet(case_no: str, catalogue: VolumeCatalogue, of: int, run_id: str | None,
                 documents: Sequence[Document], pages: Mapping[int, PageArtifact]) -> ReviewSheet:
    """The sheet of one volume: every row, and for each field in doubt the region of the page it is printed on."""
    by_index = {d.index: d for d in documents}
    regions: dict[int, dict[str, FieldRegion]] = {}
    shown: dict[int, PageImage] = {}
    layouts: dict[int, PageLayout | None] = {}
    greys: dict[int, np.ndarray | None] = {}
    for entry in catalogue.entries:
        doc = by_index.get(entry.document)
        if doc is None or not doc.positions or not entry_in_doubt(entry):
            continue
        first, last = doc.positions[0], doc.positions[-1]
        for p in {first, last} - set(layouts):
            layouts[p], greys[p] = _layout(pages.get(p)), _grey(pages.get(p))
        sizes = {p: (pages[p].width, pages[p].height) for p in (first, last) if p in pages and pages[p].image_path}
        for name in FIELDS:
            evidence = getattr(entry.evidence, name)
            if not evidence.flags:
                continue
            found = field_region(name, getattr(entry, name), evidence.read, first, last, layouts, sizes,
                                 {p: g for p, g in greys.items() if g is not None})
            if found is not None:
                regions.setdefault(entry.seq, {})[name] = FieldRegion(position=found.position, box=found.box,
                                                                      located=found.located)
                shown[found.position] = page_image(pages[found.position])
    return ReviewSheet(case_no=case_no, volume=catalogue.volume, of=of, run_id=run_id, entries=catalogue.entries,
                       regions=regions, pages=shown)


def review_sheet_path(folder: Path, volume: int) -> Path:
    """Where a volume's review sheet is kept."""
    return folder / REVIEW_FOLDER / f"volume-{volume:03d}.json"


def save_review_sheet(folder: Path, sheet: ReviewSheet) -> None:
    """Keep the sheet of a volume waiting for review."""
    data = json.dumps(sheet.model_dump(mode="json"), ensure_ascii=False)
    write_atomic(review_sheet_path(folder, sheet.volume), data.encode("utf-8"))


def load_review_sheet(folder: Path, volume: int) -> ReviewSheet | None:
    """A volume's review sheet, or None."""
    return _read(review_sheet_path(folder, volume), ReviewSheet)


def load_corrections(folder: Path) -> list[CatalogueCorrection]:
    """The reviews an earlier run of this batch recorded in its work folder."""
    try:
        data = json.loads((folder / CORRECTIONS_FILE).read_text(encoding="utf-8"))
        return [CatalogueCorrection.model_validate(c) for c in data]
    except (OSError, ValueError, ValidationError):
        return []


def save_corrections(folder: Path, corrections: Sequence[CatalogueCorrection]) -> None:
    """Record the reviews in the work folder (a rerun applies them again instead of asking)."""
    data = [c.model_dump(mode="json") for c in corrections]
    write_atomic(folder / CORRECTIONS_FILE, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def case_reviews(folders: Iterable[Path]) -> list[tuple[str, datetime, str]]:
    """Who reviewed the 卷内目录 of the runs in these work folders, when, and what they did: (by, at, what)."""
    found = []
    for folder in folders:
        grouped: dict[tuple[str, datetime, int], list[CatalogueCorrection]] = {}
        for c in load_corrections(folder):
            grouped.setdefault((c.by, c.at, c.volume), []).append(c)
        for (by, at, volume), items in grouped.items():
            corrected = [f"{c.seq}.{LABELS[c.field]}" for c in items if c.action == "corrected"]  # 2.日期
            found.append((by, at, say(N_("volume {volume}: {corrected} corrected, {confirmed} confirmed"),
                                      volume=volume, corrected=say(N_(", ")).join(corrected) or "0",
                                      confirmed=sum(1 for c in items if c.action == "confirmed"))))
    return found

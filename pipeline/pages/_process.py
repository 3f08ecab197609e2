"""Process one page: hash, separator check, imaging, archival encoding, OCR; cached by content.

Processing a page is a pure function of (raw page bytes, standard profile version, pipeline version, OCR engine and
models), so its result is stored under that key: a rerun or a reprocessing never redoes a finished page, and OCR
results are also kept by the digest of the image the engine saw, so a new profile that leaves a page's cleaned image
unchanged reuses its OCR.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline import __version__
from pipeline.capture import PageRef, find_separator, page_file_digest, read_page
from pipeline.common import return_free_memory, write_atomic
from pipeline.imaging import (
    SEAL_NOT_IN_COLOUR,
    g4_tiff,
    has_grey_marks,
    one_thread_per_page,
    prepare_page,
    thumbnail_of,
    thumbnail_path,
)
from pipeline.models import PageRecord, PageSource, SeparatorPayload, StandardProfile
from pipeline.ocr import (
    HeadingReader,
    OcrCache,
    OcrFile,
    OcrInput,
    OcrResult,
    cached_ocr,
    cached_ocr_images,
    confidence_threshold,
    profile_engine,
)
from pipeline.pages._artifact import PageArtifact


def page_cache_key(sha256: str, profile: StandardProfile, ocr_key: str = "") -> str:
    """The cache key of a page result: raw content, profile id@version, pipeline version and the OCR engine's key
    (engine, version, model digests: :func:`ocr_engine_key`), so new models never leave old text in a page."""
    return hashlib.sha256(f"{sha256}|{profile.key}|{__version__}|{ocr_key}".encode()).hexdigest()


def ocr_engine_key(profile: StandardProfile) -> str:
    """What of the OCR engine goes into page cache keys: its settings key, empty when the profile does not OCR."""
    return profile_engine(profile.ocr).key if profile.ocr.enabled else ""


GREY_QUALITY = 60
"""JPEG quality of a bitonal page's kept grey: it is only read again, never published (~1/3 of a q75 page)."""


@dataclass(frozen=True)
class PageCache:
    """Finished page results on disk: ``<root>/<key[:2]>/<key>/{page.json, image.tif|image.jpg, ocr.json}`` and a
    bitonal page's ``grey.jpg``."""

    root: Path

    def folder(self, key: str) -> Path:
        """Where the result for a key lives."""
        return self.root / key[:2] / key

    def load(self, key: str, position: int, ref: PageRef) -> PageArtifact | None:
        """A cached result re-anchored at this batch position, or None when absent or incomplete."""
        meta_path = self.folder(key) / "page.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            record = PageRecord.model_validate(meta["record"])
        except (OSError, ValueError, KeyError):
            return None
        folder = self.folder(key)
        image = folder / meta["image"] if meta.get("image") else None
        ocr = folder / meta["ocr"] if meta.get("ocr") else None
        grey = folder / meta["grey"] if meta.get("grey") else None
        if (image and not image.exists()) or (ocr and not ocr.exists()) or (grey and not grey.exists()):
            return None
        record = record.model_copy(update={"source": PageSource(file=ref.file, index=ref.index)})
        separator = SeparatorPayload.model_validate(meta["separator"]) if meta.get("separator") else None
        return PageArtifact(position, record, image, meta.get("width", 0), meta.get("height", 0),
                            meta.get("dpi", 300.0), ocr, separator, grey)

    def save(self, key: str, artifact: PageArtifact) -> None:
        """Record a finished page (its files are already in the key's folder); page.json is written last."""
        meta = {
            "record": artifact.record.model_dump(mode="json"),
            "image": artifact.image_path.name if artifact.image_path else None,
            "ocr": artifact.ocr_path.name if artifact.ocr_path else None,
            "grey": artifact.grey_path.name if artifact.grey_path else None,
            "width": artifact.width,
            "height": artifact.height,
            "dpi": artifact.dpi,
            "separator": artifact.separator.model_dump(mode="json") if artifact.separator else None,
        }
        write_atomic(self.folder(key) / "page.json", json.dumps(meta, ensure_ascii=False).encode())


def dark_field(image: Image.Image) -> int | None:
    """The median grey (0-255) of a page whose dominant tone is dark, or None for a page that looks like paper.

    Blank detection looks for marks on paper; on a dark field (a page decoded with its ink inverted, a black sheet)
    it finds none, so such a page must never be called blank.
    """
    step = max(1, max(image.size) // 300)
    if image.mode.startswith("I") or image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)[::step, ::step]
        arr = arr / (65535.0 if image.mode.startswith("I;16") else max(float(arr.max()), 1.0)) * 255.0
    else:
        arr = np.asarray(image.getchannel("G") if image.mode == "RGB" else image.convert("L"))[::step, ::step]
    median = int(np.median(arr))
    return median if median < 128 else None


def encode_archive(image: Image.Image | np.ndarray, colour: str, dpi: float, jpeg_quality: int) -> tuple[bytes, str]:
    """Encode the archival image: single-strip CCITT G4 TIFF for bitonal pages (given as an image or as a uint8
    array, below 128 black), baseline JPEG otherwise."""
    if colour == "bitonal":
        pixels = image if isinstance(image, np.ndarray) else np.asarray(image.convert("L"))
        return g4_tiff(pixels, dpi), ".tif"
    buf = io.BytesIO()
    res = (round(dpi), round(dpi))
    mode = "L" if colour == "grey" else "RGB"
    image.convert(mode).save(buf, "JPEG", quality=jpeg_quality, dpi=res, optimize=True)
    return buf.getvalue(), ".jpg"


@dataclass(frozen=True)
class PageEnvironment:
    """What processing a page needs besides the page: the batch folder, profile, caches, declared dpi."""

    batch_dir: Path
    profile: StandardProfile
    cache: PageCache
    ocr_cache_root: Path
    declared_dpi: int | None = None
    has_title: Callable[[OcrResult], bool] | None = None  # set: a page whose OCR shows no title has its top re-read


@dataclass
class _AwaitingOcr:
    """A page imaged and archived, waiting for its OCR (held only while its chunk is OCRed)."""

    position: int
    ref: PageRef
    key: str
    record: PageRecord
    image_path: Path
    width: int
    height: int
    dpi: float
    ocr_image: OcrInput
    grey_path: Path | None = None


def _image_page(position: int, ref: PageRef, env: PageEnvironment,
                ocr_key: str) -> tuple[PageArtifact, bool] | _AwaitingOcr:
    """Everything up to OCR: cache lookup, separator check, imaging, archival encoding."""
    limits = env.profile.input
    known = page_file_digest(env.batch_dir, ref, limits)  # a rerun finds finished pages without decoding them
    if known is not None:
        cached = env.cache.load(page_cache_key(known, env.profile, ocr_key), position, ref)
        if cached is not None:
            return cached, True
    raw = read_page(env.batch_dir, ref, limits)
    key = page_cache_key(raw.sha256, env.profile, ocr_key)
    cached = env.cache.load(key, position, ref)
    if cached is not None:
        raw.image.close()
        return cached, True

    folder = env.cache.folder(key)
    source = PageSource(file=ref.file, index=ref.index)
    dpi = raw.dpi if raw.dpi is not None else env.declared_dpi

    found = find_separator(raw.image, ref.label)
    if found.kind == "separator":
        record = PageRecord(source=source, sha256=raw.sha256, dpi=dpi, separator=True, colour="bitonal",
                            colour_reason="separator sheet")
        artifact = PageArtifact(position, record, None, separator=found.payload)
        env.cache.save(key, artifact)
        return artifact, False
    if found.kind == "undecodable":
        # Not cached: the flow sends the batch to review with this page named.
        record = PageRecord(source=source, sha256=raw.sha256, dpi=dpi, separator=True,
                            flags=[f"separator-undecodable: {found.reason}"])
        return PageArtifact(position, record, None), False

    engine = profile_engine(env.profile.ocr)
    prepared, flags = _prepare(raw.image, dpi, env.profile, ref.label, engine.read_glyphs)
    raw.image.close()
    record = PageRecord(
        source=source, sha256=raw.sha256, dpi=prepared.dpi, dpi_inferred=prepared.dpi_inferred,
        rotation=prepared.rotation, skew=round(prepared.skew, 3), blank=prepared.blank, colour=prepared.colour,
        colour_reason=prepared.colour_reason, seal=prepared.seal, flags=flags,
    )
    if prepared.blank:
        artifact = PageArtifact(position, record, None, dpi=prepared.dpi)
        env.cache.save(key, artifact)
        return artifact, False

    pixels = prepared.bits if prepared.bits is not None else prepared.archive
    data, suffix = encode_archive(pixels, prepared.colour, prepared.dpi, env.profile.imaging.jpeg_quality)
    image_path = folder / f"image{suffix}"
    write_atomic(image_path, data)
    # the contact sheet's thumbnail, made now from pixels in memory (~10 ms, 15 ms in colour) rather than by decoding
    # the image again at the end of the run, where it held up the finish by ~1 s
    thumb = thumbnail_of(prepared.archive)
    buf = io.BytesIO()
    thumb.save(buf, "PNG")
    write_atomic(thumbnail_path(image_path), buf.getvalue())
    width, height = prepared.archive.size
    if not env.profile.ocr.enabled or prepared.ocr is None:
        artifact = PageArtifact(position, record, image_path, width, height, prepared.dpi)
        env.cache.save(key, artifact)
        return artifact, False
    ocr_input: OcrInput = prepared.ocr
    grey_path = None
    # a seal its ring told (scanned without colour: the OCR copy has it taken out) or mid-grey marks left in the copy
    sealed = any(f.startswith(SEAL_NOT_IN_COLOUR) for f in prepared.flags)
    if prepared.colour == "bitonal" and (sealed or has_grey_marks(np.asarray(prepared.ocr), prepared.dpi)):
        grey_path = folder / "grey.jpg"
        write_atomic(grey_path, encode_archive(prepared.ocr, "grey", prepared.dpi, GREY_QUALITY)[0])
    if prepared.colour == "bitonal" and engine.reads_bits:
        # Tesseract reads the archive G4 file itself: it reads the bits better than the grey they were cut from (CER
        # 10.7 % vs 12.3 %), and a G4 file at ~65 ms a page less than the same pixels in memory; PP-OCR reads the grey
        prepared.ocr.close()
        ocr_input = OcrFile(image_path, width, height)
    return _AwaitingOcr(position, ref, key, record, image_path, width, height, prepared.dpi, ocr_input, grey_path)


def _prepare(image: Image.Image, dpi: float | None, profile: StandardProfile, label: str, reader):
    """Imaging of one page, and its flags; a page called blank that is a dark field is imaged again as a page."""
    prepared = prepare_page(image, dpi, profile, label, reader=reader)
    if not prepared.blank or (tone := dark_field(image)) is None:
        return prepared, list(prepared.flags)
    # not a sheet of paper: whatever it holds stays in the volume for a person to see
    keep = profile.model_copy(update={"imaging": profile.imaging.model_copy(update={"blank_detection": False})})
    prepared = prepare_page(image, dpi, keep, label, reader=reader)
    return prepared, list(prepared.flags) + [f"not-blank: a dark page (median grey {tone} of 255) is never taken "
                                             f"for a blank sheet"]


def _finish_page(page: _AwaitingOcr, result, env: PageEnvironment) -> PageArtifact:
    """Record a page's OCR result (its title line re-read when the page OCR dropped it) and cache the finished page."""
    record = page.record
    artifact = PageArtifact(page.position, record, page.image_path, page.width, page.height, page.dpi,
                            grey_path=page.grey_path)
    ocr = env.profile.ocr
    if env.has_title is not None:
        headings = HeadingReader.for_policy(env.has_title, ocr, env.ocr_cache_root)
        result = headings.complete(page.image_path, page.dpi, page.ref.label, result)
    ocr_path = env.cache.folder(page.key) / "ocr.json"
    write_atomic(ocr_path, json.dumps(result.to_dict(), ensure_ascii=False).encode())
    confidence = result.mean_confidence
    record.ocr_confidence = round(confidence, 1) if confidence is not None else None
    record.ocr_chars = sum(len(w.text) for w in result.words)
    threshold = confidence_threshold(ocr)
    if confidence is not None and confidence < threshold:
        record.flags.append(f"ocr-confidence-low: {confidence:.0f} < {threshold:.0f}")
    if record.ocr_chars == 0:
        record.flags.append("ocr-no-text")
    artifact = replace(artifact, ocr_path=ocr_path)
    env.cache.save(page.key, artifact)
    return artifact


def process_pages(items: list[tuple[int, PageRef]], env: PageEnvironment) -> list[tuple[PageArtifact, bool]]:
    """Process a chunk of pages (or load them from the cache); returns (artifact, came from cache) in order.

    With Tesseract, pages are imaged one at a time and those that need OCR are then read by one Tesseract process for
    the whole chunk (the model loads once: measured 9–24% less CPU per page than a process per page,
    bench/ocr_modes.py); only the chunk's cleaned OCR images are held meanwhile. With PP-OCR, whose model stays
    loaded in the worker, each page is read as soon as it is imaged, and no image is held.
    """
    one_thread_per_page()
    engine = profile_engine(env.profile.ocr)
    ocr_key = ocr_engine_key(env.profile)
    cache = OcrCache(env.ocr_cache_root)
    done: dict[int, tuple[PageArtifact, bool]] = {}
    waiting: list[_AwaitingOcr] = []
    for position, ref in items:
        outcome = _image_page(position, ref, env, ocr_key)
        if not isinstance(outcome, _AwaitingOcr):
            done[position] = outcome
        elif engine.batches:
            waiting.append(outcome)
        else:
            result = cached_ocr(outcome.ocr_image, outcome.dpi, engine, ref.label, cache)
            done[position] = (_finish_page(_drop_image(outcome), result, env), False)
    if waiting:
        results = cached_ocr_images([(p.ocr_image, p.dpi, p.ref.label) for p in waiting], engine, cache)
        for page, result in zip(waiting, results):
            done[page.position] = (_finish_page(_drop_image(page), result, env), False)
    return_free_memory()  # the chunk's page buffers, before their holes add up over a long batch
    return [done[position] for position, _ in items]


def _drop_image(page: _AwaitingOcr) -> _AwaitingOcr:
    """The page with its OCR image closed (it has been read)."""
    if isinstance(page.ocr_image, Image.Image):
        page.ocr_image.close()
    return page


def chunked(count: int, size: int, workers: int = 1) -> list[list[int]]:
    """Positions 0..count-1 in consecutive chunks of at most ``size``; the last ``workers * size`` pages go in
    quarter-size chunks, so that no worker sits idle for long while another finishes a big last chunk."""
    tail_start = count - workers * size if workers > 1 and count > 2 * workers * size else count
    small = max(1, size // 4)
    chunks = [list(range(start, min(start + size, tail_start))) for start in range(0, tail_start, size)]
    chunks += [list(range(start, min(start + small, count))) for start in range(tail_start, count, small)]
    return chunks

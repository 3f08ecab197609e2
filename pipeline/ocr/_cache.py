"""A folder of OCR results keyed by (image digest, OCR settings key), so a rerun never OCRs the same page twice.

The settings key names the engine, its version, the SHA-256 of its models and its settings (``OcrEngine.key``, or
``line_key`` for single-line reads): another engine, or the same engine with other models, never reuses a result.

Entries are JSON files written atomically (:func:`pipeline.common.write_atomic`), so
readers never see half an entry and concurrent writers of the same entry simply last-write-win with identical
content. An unreadable or mismatching entry is a miss. :meth:`OcrCache.get_or_compute` also serialises the
computation of one entry across threads and processes with a lock file, so identical pages OCR once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from pipeline.common import write_atomic
from pipeline.ocr._protocol import OcrEngine
from pipeline.ocr._results import OcrFile, OcrInput, OcrResult

ENTRY_VERSION = 1


def image_digest(image: OcrInput) -> str:
    """SHA-256 (hex) over the image's mode, size and pixel bytes; for a file handed to Tesseract as it is, over the
    file's bytes (what Tesseract reads)."""
    h = hashlib.sha256()
    if isinstance(image, OcrFile):
        h.update(b"file\0")
        h.update(image.path.read_bytes())
        return h.hexdigest()
    h.update(f"{image.mode}\0{image.width}x{image.height}\0".encode())
    h.update(image.tobytes())
    return h.hexdigest()


class OcrCache:
    """OCR results persisted as one JSON file per (image digest, settings key) under a folder."""

    def __init__(self, folder: Path):
        """Use (and create if needed) ``folder`` for the entries."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, image_sha256: str, settings_key: str) -> Path:
        """The file holding one entry."""
        key_hash = hashlib.sha256(settings_key.encode("utf-8")).hexdigest()[:16]
        return self.folder / image_sha256[:2] / f"{image_sha256}-{key_hash}.json"

    def get(self, image_sha256: str, settings_key: str) -> OcrResult | None:
        """The cached result, or None when absent, unreadable or written for another image or key."""
        try:
            data = json.loads(self.path(image_sha256, settings_key).read_text(encoding="utf-8"))
            if (data.get("version") != ENTRY_VERSION or data.get("image_sha256") != image_sha256
                    or data.get("settings_key") != settings_key):
                return None
            return OcrResult.from_dict(data["result"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, image_sha256: str, settings_key: str, result: OcrResult) -> None:
        """Store a result atomically; concurrent writers of the same entry are safe."""
        payload = json.dumps({"version": ENTRY_VERSION, "image_sha256": image_sha256, "settings_key": settings_key,
                              "result": result.to_dict()}, ensure_ascii=False, separators=(",", ":"))
        write_atomic(self.path(image_sha256, settings_key), payload, durable=True)

    def get_or_compute(self, image_sha256: str, settings_key: str, compute: Callable[[], OcrResult]) -> OcrResult:
        """The cached result, or ``compute()`` stored; one computation per entry even under concurrent callers."""
        hit = self.get(image_sha256, settings_key)
        if hit is not None:
            return hit
        target = self.path(image_sha256, settings_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                hit = self.get(image_sha256, settings_key)
                if hit is not None:
                    return hit
                result = compute()
                self.put(image_sha256, settings_key, result)
                return result
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def cached_ocr(image: OcrInput, dpi: float, engine: OcrEngine, label: str, cache: OcrCache | None) -> OcrResult:
    """OCR a page through the cache: the key is the image digest and the engine's key plus the resolution."""
    if cache is None:
        return engine.read_page(image, dpi, label)
    key = f"{engine.key};dpi={dpi:g}"
    return cache.get_or_compute(image_digest(image), key, lambda: engine.read_page(image, dpi, label))


def cached_line(image: Image.Image, dpi: float, engine: OcrEngine, label: str, cache: OcrCache | None) -> OcrResult:
    """Read an image of one line through the cache (keyed by the engine's line key)."""
    if cache is None:
        return engine.read_line(image, dpi, label)
    key = f"{engine.line_key};dpi={dpi:g}"
    return cache.get_or_compute(image_digest(image), key, lambda: engine.read_line(image, dpi, label))


def cached_ocr_images(items: list[tuple[OcrInput, float, str]], engine: OcrEngine,
                      cache: OcrCache | None) -> list[OcrResult]:
    """OCR pages ``(image, dpi, label)`` through the cache, the misses in one engine call (Tesseract's list mode).

    Identical pages in ``items`` are OCRed once. Unlike :func:`cached_ocr`, pages are not locked against another
    process OCRing them at the same moment (both would store the same result).
    """
    if cache is None:
        return engine.read_pages(items)
    base = engine.key
    keys = [(image_digest(img), f"{base};dpi={dpi:g}") for img, dpi, _ in items]
    found: dict[tuple[str, str], OcrResult] = {}
    todo: dict[tuple[str, str], int] = {}
    for i, k in enumerate(keys):
        if k in found or k in todo:
            continue
        hit = cache.get(*k)
        if hit is not None:
            found[k] = hit
        else:
            todo[k] = i
    if todo:
        fresh = engine.read_pages([items[i] for i in todo.values()])
        for k, result in zip(todo, fresh):
            cache.put(*k, result)
            found[k] = result
    return [found[k] for k in keys]

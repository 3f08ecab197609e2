"""Tesseract: the one home of the tesseract program (page OCR in list mode, line and block reads, OSD), and
:class:`TesseractEngine`, one of the two engines behind the OCR seam (``_protocol.py``).

Tesseract runs as a child process with ``OMP_THREAD_LIMIT=1`` (pages are parallelised, never threads inside one
page); its TSV output gives word boxes, line grouping and word confidence. Images go in as uncompressed TIFF files
(grey or bitonal): no PNG encoding is paid, and leptonica reads them faster than PGM or stdin. A page already on disk
in a form Tesseract reads (a bitonal page's G4 archive TIFF) goes in as that file (:class:`OcrFile`)."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image

from pipeline.common import run_tool, sha256_file
from pipeline.errors import PageError
from pipeline.models import ModelFileEntry, OcrEngineEntry
from pipeline.ocr._protocol import Glyph
from pipeline.ocr._results import OcrFile, OcrInput, OcrLine, OcrResult, OcrWord
from pipeline.ocr._settings import OcrSettings

LINE_PSM = 7
"""The page segmentation mode that reads an image as one line of text."""

ONE_THREAD = {"OMP_THREAD_LIMIT": "1"}
"""Tesseract runs with one OpenMP thread: pages are parallelised, never threads inside one page."""


# Bumped whenever the way images are prepared or output is parsed changes, so cached results are not reused.
OCR_CODE_VERSION = "1"


def tesseract_cmd() -> str:
    """The tesseract binary pytesseract is configured with."""
    return str(pytesseract.pytesseract.tesseract_cmd)


@lru_cache(maxsize=8)
def tesseract_version(cmd: str) -> str:
    """The version string of a tesseract binary, e.g. ``5.3.0``."""
    out = run_tool([cmd, "--version"], what=f"running {cmd} --version", timeout=30, tool="tesseract", error=PageError)
    first = (out.text() or out.stderr.decode("utf-8", "replace")).strip().splitlines()[0]
    return first.split()[-1]


@lru_cache(maxsize=8)
def default_tessdata(cmd: str) -> str:
    """The folder tesseract loads its models from when none is given."""
    out = run_tool([cmd, "--list-langs"], what=f"running {cmd} --list-langs", timeout=30, tool="tesseract",
                   error=PageError)
    listing = out.text() + out.stderr.decode("utf-8", "replace")
    m = re.search(r'"([^"]+)"', listing)
    if not m:
        raise PageError(f"cannot find tesseract's tessdata folder in: {listing[:200]!r}")
    return m.group(1)


@lru_cache(maxsize=64)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a model file, computed once per version of the file (size and mtime)."""
    return sha256_file(Path(path))


def _model_stat(path: Path) -> tuple[int, str]:
    try:
        st = path.stat()
    except OSError as exc:
        raise PageError(f"tesseract model {path} is missing: {exc}") from exc
    return st.st_size, file_digest(str(path), st.st_size, st.st_mtime_ns)


def command_of(settings: OcrSettings) -> str:
    """The tesseract binary the settings run."""
    return settings.tesseract or tesseract_cmd()


def model_files(settings: OcrSettings) -> list[Path]:
    """The traineddata files Tesseract loads with the settings (OSD too when the psm uses it), in the settings'
    model folder or tesseract's default one (tesseract itself honours TESSDATA_PREFIX)."""
    folder = Path(settings.tessdata or default_tessdata(command_of(settings)))
    names = [n for n in settings.languages.split("+") if n]
    if settings.psm in (0, 1):
        names.append("osd")
    return [folder / f"{n}.traineddata" for n in names]


def tesseract_key(settings: OcrSettings) -> str:
    """The OCR cache key of Tesseract settings: code version, tesseract version, languages, psm, model digests."""
    parts = [f"ocr{OCR_CODE_VERSION}", f"tesseract {tesseract_version(command_of(settings))}",
             f"l={settings.languages}", f"psm={settings.psm}"]
    for path in model_files(settings):
        size, digest = _model_stat(path)
        parts.append(f"{path.name}={size}:{digest[:16]}")
    return ";".join(parts)


def _image_bytes(image: Image.Image, dpi: float) -> bytes:
    """The image as an uncompressed TIFF, bitonal or grey (colour is turned grey, as tesseract would do anyway).

    Uncompressed TIFF costs ~8 ms to write and is read fastest by leptonica (PGM reading cost 0.16 CPU-s more on A4).
    """
    if image.mode not in ("1", "L"):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            flat.alpha_composite(rgba)
            image = flat
        image = image.convert("L")
    buf = io.BytesIO()
    image.save(buf, format="TIFF", dpi=(dpi, dpi))
    return buf.getvalue()


def _command(settings: OcrSettings, source: str, dpi: float) -> list[str]:
    cmd = [command_of(settings), source, "stdout", "-l", settings.languages, "--psm", str(settings.psm),
           "--dpi", str(max(1, round(dpi)))]
    if settings.tessdata:
        cmd += ["--tessdata-dir", settings.tessdata]
    return cmd + ["tsv"]


def _run(cmd: list[str], timeout: float, what: str, label: str) -> str:
    result = run_tool(cmd, what=f"OCR of {what}", timeout=timeout, tool="tesseract", env=ONE_THREAD,
                      error=lambda message: PageError(message, page=label))
    return result.text()


def parse_tsv(tsv: str) -> dict[int, list[OcrLine]]:
    """Lines of words per page number (1-based) from tesseract's TSV output, in reading order."""
    pages: dict[int, list[OcrLine]] = {}
    current: list[OcrWord] | None = None

    def close() -> None:
        if current:
            line = OcrLine(tuple(current), min(w.x0 for w in current), min(w.y0 for w in current),
                           max(w.x1 for w in current), max(w.y1 for w in current))
            pages[page].append(line)

    page = 0
    for row in tsv.split("\n"):
        cols = row.split("\t", 11)
        if len(cols) < 11 or not cols[0].isdigit():
            continue
        level = int(cols[0])
        if level <= 4:
            close()
            current = None
            page = int(cols[1])
            pages.setdefault(page, [])
            if level == 4:
                current = []
            continue
        text = cols[11].strip() if len(cols) > 11 else ""
        if level != 5 or current is None or not text:
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        current.append(OcrWord(text, left, top, left + width, top + height, round(float(cols[10]), 2)))
    close()
    return pages


def tesseract_image(image: OcrInput, dpi: float, settings: OcrSettings, label: str) -> OcrResult:
    """OCR one page image at its resolution; raises PageError naming ``label`` on failure or timeout."""
    if isinstance(image, OcrFile):
        tsv = _run(_command(settings, str(image.path), dpi), settings.timeout, f"page {label}", label)
    else:
        # A file, not stdin: tesseract reads stdin slowly (measured +0.25 CPU-s on an A4 page).
        with tempfile.NamedTemporaryFile(prefix="ocr-", suffix=".tif") as f:
            f.write(_image_bytes(image, dpi))
            f.flush()
            tsv = _run(_command(settings, f.name, dpi), settings.timeout, f"page {label}", label)
    lines = parse_tsv(tsv).get(1, [])
    return OcrResult(image.width, image.height, float(dpi), tuple(lines), tesseract_key(settings))


def tesseract_images(items: Sequence[tuple[OcrInput, float, str]], settings: OcrSettings,
                     scratch: Path | None = None) -> list[OcrResult]:
    """OCR several pages ``(image, dpi, label)`` in one tesseract process per resolution (the model loads once).

    If the batch run fails, each page is run alone so the error names the page at fault.
    """
    results: list[OcrResult | None] = [None] * len(items)
    by_dpi: dict[int, list[int]] = {}
    for i, (_, dpi, _) in enumerate(items):
        by_dpi.setdefault(max(1, round(dpi)), []).append(i)
    with tempfile.TemporaryDirectory(prefix="ocr-", dir=scratch) as tmp:
        for dpi, indexes in by_dpi.items():
            paths, written = [], []
            for i in indexes:
                image = items[i][0]
                if isinstance(image, OcrFile):
                    paths.append(str(image.path))
                    continue
                path = Path(tmp) / f"{i:05d}.tif"
                path.write_bytes(_image_bytes(image, items[i][1]))
                paths.append(str(path))
                written.append(path)
            listing = Path(tmp) / f"list-{dpi}.txt"
            listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
            labels = ", ".join(items[i][2] for i in indexes)
            try:
                pages = parse_tsv(_run(_command(settings, str(listing), dpi), settings.timeout * len(indexes),
                                       f"pages {labels}", labels))
            except PageError:
                pages = None
            for n, i in enumerate(indexes, start=1):
                image, page_dpi, label = items[i]
                if pages is None:
                    results[i] = tesseract_image(image, page_dpi, settings, label)
                else:
                    results[i] = OcrResult(image.width, image.height, float(page_dpi), tuple(pages.get(n, [])),
                                           tesseract_key(settings))
            for path in written:
                path.unlink()
    return [r for r in results if r is not None]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def read_words(image: Image.Image, dpi: float, settings: OcrSettings, what: str, label: str,
               failure_is_none: bool = False) -> list[OcrWord] | None:
    """The words Tesseract reads in a small image (a title line with psm 7, a sample block with psm 6), with
    unrounded confidences; with ``failure_is_none`` a failed run gives None instead of an error."""
    result = run_tool(_command(settings, "stdin", dpi), what=what, timeout=settings.timeout, tool="tesseract",
                      env=ONE_THREAD, input=_png(image), check=not failure_is_none,
                      error=lambda message: PageError(message, page=label))
    if result.returncode != 0:
        return None
    words = []
    for row in result.text().splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
            x, y, w, h = (int(c) for c in cols[6:10])
            words.append(OcrWord(cols[11].strip(), x, y, x + w, y + h, float(cols[10])))
    return words


class TesseractEngine:
    """Tesseract behind the OCR seam: pages in list mode (the model loads once a run), lines with psm 7, the
    orientation check's block with psm 6; nothing stays loaded between runs."""

    name = "tesseract"
    batches = True
    reads_bits = True

    def __init__(self, settings: OcrSettings):
        """The engine for ``settings`` (languages, psm, binary, model folder, timeout)."""
        self.settings = settings

    def _with(self, **changes: object) -> OcrSettings:
        return OcrSettings(**{**self.settings.__dict__, **changes})

    @property
    def key(self) -> str:
        """Code and tesseract versions, languages, psm and model digests."""
        return tesseract_key(self.settings)

    @property
    def line_key(self) -> str:
        """The key of single-line reads (psm 7)."""
        return tesseract_key(self._with(psm=LINE_PSM))

    def read_page(self, image: OcrInput, dpi: float, label: str) -> OcrResult:
        """One page (a file Tesseract reads itself, or pixels)."""
        return tesseract_image(image, dpi, self.settings, label)

    def read_pages(self, items: Sequence[tuple[OcrInput, float, str]], scratch: Path | None = None) -> list[OcrResult]:
        """Pages in one tesseract process per resolution."""
        return tesseract_images(items, self.settings, scratch)

    def read_line(self, image: Image.Image, dpi: float, label: str) -> OcrResult:
        """One line (psm 7), words with unrounded confidences."""
        line = self._with(psm=LINE_PSM, timeout=min(30.0, self.settings.timeout))
        words = read_words(image, dpi, line, f"re-reading a line of {label}", label) or []
        lines = (OcrLine(tuple(words), min(w.x0 for w in words), min(w.y0 for w in words),
                         max(w.x1 for w in words), max(w.y1 for w in words)),) if words else ()
        return OcrResult(image.width, image.height, float(dpi), lines, self.line_key)

    def read_glyphs(self, grey: np.ndarray, dpi: float, label: str) -> list[Glyph] | None:
        """A block (psm 6); each character carries its word's confidence and box."""
        block = self._with(psm=6, timeout=min(30.0, self.settings.timeout))
        words = read_words(Image.fromarray(grey), dpi, block, f"{label}: tesseract orientation check", label,
                           failure_is_none=True)
        if words is None:
            return None
        return [(ch, w.conf, w.y0, w.y1 - w.y0) for w in words for ch in w.text]

    def entry(self) -> OcrEngineEntry:
        """Tesseract's version and the traineddata files the settings load."""
        version = tesseract_version(command_of(self.settings))
        files = [ModelFileEntry(file=p.name, bytes=b, sha256=d) for p in model_files(self.settings)
                 for b, d in (_model_stat(p),)]
        return OcrEngineEntry(engine="tesseract", version=f"tesseract {version}", runtime="", models=files)

    def check(self) -> None:
        """Computing the key finds (and digests) every model file."""
        self.key  # noqa: B018

    def warm(self, workers: int) -> None:
        """Nothing: Tesseract starts per run."""

    def release(self) -> int:
        """Nothing held: a child process per run."""
        return 0


def osd_rotation(grey: Image.Image, dpi: float, label: str, timeout: float = 10.0,
                 tesseract: str = "") -> tuple[int, float] | None:
    """Tesseract OSD on an image: (degrees clockwise to turn it upright, confidence), None if it has no answer."""
    settings = OcrSettings(languages="osd", psm=0, timeout=timeout, tesseract=tesseract)
    cmd = [command_of(settings), "stdin", "stdout", "--psm", "0", "--dpi", str(max(1, round(dpi)))]
    result = run_tool(cmd, what=f"{label}: tesseract OSD", timeout=timeout, tool="tesseract", env=ONE_THREAD,
                      input=_png(grey), check=False, error=lambda message: PageError(message, page=label))
    out = result.text() + result.stderr.decode("utf-8", "replace")
    rotate = re.search(r"Rotate:\s*(\d+)", out)
    conf = re.search(r"Orientation confidence:\s*([\d.]+)", out)
    if result.returncode != 0 or not rotate:
        return None  # "Too few characters" and the like: OSD has no opinion
    return int(rotate.group(1)) % 360, float(conf.group(1)) if conf else 0.0

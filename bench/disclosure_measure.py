"""One generated case file's lawyer copy made, published and measured against its planted truth (bench/disclosure.py
prints the totals)."""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pymupdf
from PIL import Image

from samples.personal import GeneratedCase, Planted, changed_share, removed


@dataclass
class CaseScore:
    """What one case's copy did against its truth."""

    planted: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    detections: int = 0
    true_detections: int = 0
    decoys: int = 0
    decoys_hit: int = 0
    doubtful: int = 0
    found_by_ocr: int = 0
    residual: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("text", "ocr", "bytes", "images"), 0))
    control: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("text", "ocr", "bytes", "images"), 0))
    checks_passed: int = 0
    volumes: int = 0
    original_unchanged: int = 0
    pages: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    misses: list[str] = field(default_factory=list)


def norm(text: str) -> str:
    """Text as values are compared: NFKC, without spaces, dashes and dots."""
    return re.sub(r"[\s\-·•.]", "", unicodedata.normalize("NFKC", text))


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.int16)


def _mapper(width: int, height: int, angle: float):
    """Clean-page pixels → archive pixels, as imaging turns an unbordered page (``_output_geometry``)."""
    m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64) @ m[:, :2].T + m[:, 2]
    m[:, 2] -= np.floor(corners.min(axis=0))

    def box(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        pts = np.array([[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]], dtype=np.float64) @ m[:, :2].T \
            + m[:, 2]
        return (int(math.floor(pts[:, 0].min())), int(math.floor(pts[:, 1].min())),
                int(math.ceil(pts[:, 0].max())), int(math.ceil(pts[:, 1].max())))

    return box


def _ink(grey: np.ndarray, b: tuple[int, int, int, int]) -> np.ndarray:
    return grey[max(0, b[1]) : b[3], max(0, b[0]) : b[2]] < 128


def _page_mapper(items: list[Planted], original: np.ndarray, skew: float, size: tuple[int, int]):
    """The mapping (of the two signs of the recorded skew) that puts the planted characters on ink."""
    best = None
    for angle in {skew, -skew}:
        mapper = _mapper(size[0], size[1], angle)
        ink = [_ink(original, mapper(b)).mean() for item in items for b in item.boxes if _ink(original, mapper(b)).size]
        score = float(np.mean(ink)) if ink else 0.0
        if best is None or score > best[0]:
            best = (score, mapper)
    return best[1]


def _score_pixels(score: CaseScore, case: GeneratedCase, copy_pdf: Path, original_pdf: Path, records, manifest) \
        -> None:
    from pipeline.assembly import numbered_pages, scanned_image

    layers = list(numbered_pages(original_pdf))
    with pikepdf.open(original_pdf) as opdf, pikepdf.open(copy_pdf) as cpdf:
        copy_layers = {lp.number: lp for lp in numbered_pages(copy_pdf)}
        for layer, truth in zip(layers, case.pages):
            before = scanned_image(opdf, layer.pdf_index, "original").image
            after = scanned_image(cpdf, copy_layers[layer.number].pdf_index, "copy").image
            original = _grey(before)
            record = records[layer.number]
            size = Image.open(case.folder / truth.file).size
            mapper = _page_mapper(truth.planted, original, record.skew, size)
            areas = []
            for item in truth.planted:
                boxes = [mapper(b) for b in item.boxes]
                if item.hide:
                    score.planted[item.kind] = score.planted.get(item.kind, 0) + 1
                    if removed(item, before, after, boxes):
                        score.removed[item.kind] = score.removed.get(item.kind, 0) + 1
                    else:
                        score.misses.append(f"{case.case_no} p{layer.number} {item.kind} {item.printed} {item.notes}")
                    areas += boxes
                else:
                    score.decoys += 1
                    if any(changed_share(before, after, b) >= 0.5 for b in boxes):
                        score.decoys_hit += 1
                        score.misses.append(f"{case.case_no} p{layer.number} decoy painted {item.printed}")
            for d in manifest.detections:
                if d.page != layer.number or d.action == "kept":
                    continue
                score.detections += 1
                hit = sum(max(0, min(x1, a[2]) - max(x0, a[0])) * max(0, min(y1, a[3]) - max(y0, a[1]))
                          for x0, y0, x1, y1 in d.boxes for a in areas)
                true = hit >= 0.3 * max(1, sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in d.boxes))
                score.true_detections += true
                if not true:
                    score.misses.append(f"{case.case_no} p{layer.number} false detection {d.kind} {d.reason} {d.boxes}")


def _hidden_values(case: GeneratedCase) -> list[str]:
    return sorted({norm(item.value) for _, item in case.items() if item.hide})


def _text_read(pdf: Path) -> str:
    with pymupdf.open(pdf) as doc:
        return norm("".join(page.get_text() for page in doc))


def _ocr_read(pdf: Path) -> str:
    from pipeline.ocr import OcrSettings, ocr_image

    settings = OcrSettings(engine="ppocr")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "300", "-png", str(pdf), f"{tmp}/p"], check=True, timeout=600)
        texts = [ocr_image(Image.open(p).convert("RGB"), 300.0, settings, p.name).text
                 for p in sorted(Path(tmp).glob("p-*.png"))]
    return norm("".join(texts))


def _bytes_read(pdf: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "qdf.pdf"
        subprocess.run(["qpdf", "--qdf", "--object-streams=disable", "--decode-level=all", str(pdf), str(out)],
                       check=False, timeout=600)
        return out.read_bytes()


_HEX_STRING = re.compile(rb"<([0-9A-Fa-f\s]{4,})>")


def _string_operands(data: bytes) -> str:
    """Every hex string of the decoded file read as UTF-16 code units (how the text layer's glyphless font and PDF
    text strings carry text), in file order, normalised: a value split over several text-showing operators is
    found again here."""
    out = []
    for m in _HEX_STRING.finditer(data):
        digits = re.sub(rb"\s", b"", m.group(1))
        if len(digits) % 4 == 0:
            out.append(bytes.fromhex(digits.decode()).decode("utf-16-be", "ignore"))
    return norm("".join(out))


def _in_bytes(data: bytes, strings: str, value: str) -> bool:
    utf16 = value.encode("utf-16-be")
    return value in strings or any(p in data for p in (value.encode(), utf16, utf16.hex().upper().encode(),
                                                        utf16.hex().encode()))


def _image_digests(pdf: Path) -> set[str]:
    with pikepdf.open(pdf) as doc:
        return {hashlib.sha256(img.read_raw_bytes()).hexdigest() for page in doc.pages for img in
                page.get_images(recursive=False).values()}


def _residual(score: CaseScore, case: GeneratedCase, copy_pdf: Path, original_pdf: Path, changed: set[str]) -> None:
    values = _hidden_values(case)
    for attr, pdf in (("residual", copy_pdf), ("control", original_pdf)):
        counts = getattr(score, attr)
        text, ocr, raw = _text_read(pdf), _ocr_read(pdf), _bytes_read(pdf)
        counts["text"] += sum(v in text for v in values)
        counts["ocr"] += sum(v in ocr for v in values)
        strings = _string_operands(raw)
        counts["bytes"] += sum(_in_bytes(raw, strings, v) for v in values)
        counts["images"] += len(_image_digests(pdf) & changed)


def score_case(case: GeneratedCase, state: Path, copies: Path) -> CaseScore:
    """Make, publish and measure the lawyer's copy of a processed and published case."""
    from pipeline.archival import check_volume, development_certificate, ensure_development_signer, qpdf_cli_checks
    from pipeline.dossier import CopyOrder, fetch_source, make_copy, publish_copy
    from pipeline.ocr import OcrSettings
    from pipeline.standard import load_disclosure_profile, load_profile
    from pipeline.storage import ObjectStore, StoreConfig, dossier_prefix, load_manifest

    store = ObjectStore(StoreConfig.embedded(state))
    standard = load_profile()
    before = load_manifest(store, case.case_no).manifest
    digests = {v.key: store.hash_object(dossier_prefix(case.case_no) + v.key, before.object_versions.get(v.key))[0]
               for v in before.volumes}
    work = copies / before.case_key
    source = fetch_source(store, case.case_no, work / "source")
    signer = ensure_development_signer(state / "signing").with_policy(standard.signing)
    trust = [development_certificate(state / "signing")]
    order = CopyOrder(load_disclosure_profile("lawyer"), made_by="bench", approved_by="bench",
                      ocr=OcrSettings.from_policy(standard.ocr), jpeg_quality=standard.imaging.jpeg_quality)
    cpu, wall = time.process_time(), time.time()
    manifest = make_copy(source, order, work / "copy", signer, trust)
    score = CaseScore(cpu_seconds=time.process_time() - cpu, wall_seconds=time.time() - wall)
    publish_copy(store, manifest, work / "copy")
    score.pages = sum(v.pages for v in manifest.volumes)
    score.doubtful = sum(not d.certain for d in manifest.detections)
    score.found_by_ocr = sum(d.found_by == "ocr" for d in manifest.detections)
    records = {r.page: r for r in source.manifest.pages if r.page is not None}
    for vol in manifest.volumes:
        copy_pdf, original_pdf = work / "copy" / vol.key, source.folder / vol.key
        _score_pixels(score, case, copy_pdf, original_pdf, records, manifest)
        changed = _changed_images(original_pdf, manifest)
        _residual(score, case, copy_pdf, original_pdf, changed)
        checks = check_volume(copy_pdf, "1b", trust) + qpdf_cli_checks([(vol.key, copy_pdf)])
        score.volumes += 1
        score.checks_passed += all(c.passed for c in checks)
        after = store.hash_object(dossier_prefix(case.case_no) + vol.key, before.object_versions.get(vol.key))[0]
        score.original_unchanged += after == digests[vol.key] == vol.source_sha256
    return score


def _changed_images(original_pdf: Path, manifest) -> set[str]:
    """SHA-256 of the image streams of the original's pages that had something removed."""
    from pipeline.assembly import numbered_pages

    pages = {d.page for d in manifest.detections if d.action != "kept"}
    with pikepdf.open(original_pdf) as doc:
        return {hashlib.sha256(img.read_raw_bytes()).hexdigest() for layer in numbered_pages(original_pdf)
                if layer.number in pages for img in doc.pages[layer.pdf_index].get_images(recursive=False).values()}

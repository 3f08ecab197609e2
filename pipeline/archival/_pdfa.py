"""PDF/A finishing (pikepdf): XMP with the dossier extension schema, sRGB OutputIntent, font and structure fixes."""

from __future__ import annotations

from pathlib import Path

import pikepdf
from pikepdf import Array, Name

from pipeline.archival._pdfa_clean import clean_document, clean_resources, fix_text_strings, output_intent
from pipeline.archival._xmp import (
    LEVELS,
    ActiveContentPolicy,
    ArchivalMetadata,
    FinishNotes,
    build_xmp,
    log,
    producer_name,
    set_info,
)
from pipeline.errors import VolumeError


def save_kwargs(level: str) -> dict:
    """pikepdf save settings for a level: 1b as PDF 1.4 with a classic xref table, 2b as PDF 1.7."""
    common = dict(compress_streams=True, fix_metadata_version=False, deterministic_id=True, linearize=False)
    if level == "1b":
        return dict(common, min_version="1.4", force_version="1.4",
                    object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return dict(common, min_version="1.7", force_version="1.7", object_stream_mode=pikepdf.ObjectStreamMode.preserve)


def finish_pdfa(src: Path, dst: Path, level: str, meta: ArchivalMetadata,
                on_active_content: ActiveContentPolicy = "strip") -> FinishNotes:
    """Write ``src`` as PDF/A-``level`` (1b or 2b) to ``dst`` with the volume's XMP, Info and sRGB OutputIntent;
    return what was removed or fixed (active content is removed unless ``on_active_content="refuse"``)."""
    if level not in LEVELS:
        raise VolumeError(f"{src.name}: PDF/A level {level!r} is not supported (choose 1b or 2b)", meta.volume)
    label = f"volume {meta.volume} ({src.name})"
    try:
        pdf = pikepdf.open(src)
    except pikepdf.PasswordError as exc:
        raise VolumeError(f"{label}: the PDF is encrypted; PDF/A forbids encryption", meta.volume) from exc
    except pikepdf.PdfError as exc:
        raise VolumeError(f"{label}: cannot read the PDF: {exc}", meta.volume) from exc
    notes = FinishNotes()
    with pdf:
        if pdf.is_encrypted:
            raise VolumeError(f"{label}: the PDF is encrypted; PDF/A forbids encryption", meta.volume)
        try:
            clean_document(pdf, level, on_active_content, label, notes)
            clean_resources(pdf, level, notes)
        except VolumeError as exc:
            raise VolumeError(f"{label}: {exc}", meta.volume) from exc
        fix_text_strings(pdf, notes)
        root = pdf.Root
        # /Info in the catalog is a PyMuPDF 2.0 artefact (it belongs in the trailer); /Version and /Extensions would
        # announce a newer PDF than the level allows.
        for key in ("/Version", "/Extensions", "/Info"):
            if key in root:
                del root[key]
        root.Lang = pikepdf.String(meta.lang)
        root.OutputIntents = Array([output_intent(pdf)])
        producer = producer_name()
        xmp = build_xmp(meta, level, producer)
        root.Metadata = pdf.make_stream(xmp, Type=Name.Metadata, Subtype=Name.XML)
        set_info(pdf, meta, producer)
        if "/PieceInfo" in root:
            del root["/PieceInfo"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        try:
            pdf.save(tmp, **save_kwargs(level))
        except pikepdf.PdfError as exc:
            raise VolumeError(f"{label}: cannot write {dst}: {exc}", meta.volume) from exc
    tmp.replace(dst)
    for line in notes.fixed:
        log.debug("%s: %s", label, line)
    return notes

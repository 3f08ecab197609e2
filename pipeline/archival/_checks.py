"""The four-property check (DA/T 70-2018 四性: authenticity, completeness, usability, security) of a dossier."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from pipeline.archival._facts import PROPERTIES, TOOL
from pipeline.archival._volume_checks import inspect_while_validating, label_problems, make_check, volume_checks
from pipeline.archival._xmp import page_hash_root
from pipeline.common import sha256_file, utcnow
from pipeline.models import (
    Catalogue,
    Check,
    DossierManifest,
    PropertyVerdict,
    Report,
    ReportSummary,
    VolumeCatalogue,
    VolumeEntry,
)


def summarise(checks: Iterable[Check]) -> ReportSummary:
    """The per-property verdicts of a list of checks (a property with no check does not pass)."""
    checks = list(checks)
    verdicts = {}
    for prop in PROPERTIES:
        mine = [c for c in checks if c.property == prop]
        failures = [f"{c.subject}: {c.name}: {c.detail}" for c in mine if not c.passed]
        if not mine:
            failures = ["no check was run"]
        verdicts[prop] = PropertyVerdict(passed=not failures, failures=failures)
    return ReportSummary(passed=all(v.passed for v in verdicts.values()), **verdicts)


def make_report(case_no: str, checks: list[Check], now: datetime | None = None) -> Report:
    """A report.json over the given checks."""
    return Report(case_no=case_no, checked_at=now or utcnow(), tool=TOOL,
                  summary=summarise(checks), checks=checks)



def _load_json_model(path: Path, model, label: str, checks: list[Check]):
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        checks.append(make_check("completeness", f"{label}-present", label, False, f"{path.name} is missing"))
    except (OSError, ValidationError, ValueError) as exc:
        checks.append(make_check("usability", f"{label}-valid", label, False,
                                 f"{path.name} is not a valid {model.__name__}: {str(exc)[:300]}"))
    return None


def calendar_date(text: str) -> bool:
    """Whether a 卷内目录 日期 is a day (YYYY-MM-DD) or a month (YYYY-MM) that exists on the calendar."""
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text):
        return False
    year, month, *day = (int(p) for p in text.split("-"))
    try:
        date(year, month, day[0] if day else 1)
    except ValueError:
        return False
    return True


def _catalogue_checks(key: str, entry: VolumeEntry, vc: VolumeCatalogue | None, numbered: int) -> list[Check]:
    if vc is None:
        return [make_check("completeness", "catalogue", key, False, f"卷内目录 of volume {entry.number} is missing")]
    problems = []
    entries = vc.entries
    if [e.seq for e in entries] != list(range(1, len(entries) + 1)):
        problems.append("顺序号 not 1..n")
    if len(entries) != entry.documents:
        problems.append(f"{len(entries)} catalogue rows but the manifest says {entry.documents} documents")
    if entries:
        if entries[0].first_page != 1:
            problems.append(f"first document starts on page {entries[0].first_page}, not 1")
        if entries[-1].last_page != numbered:
            problems.append(f"last document ends on page {entries[-1].last_page} but the volume has {numbered}")
        for a, b in zip(entries, entries[1:]):
            if b.first_page != a.last_page + 1:
                problems.append(f"pages {a.last_page}→{b.first_page} between rows {a.seq} and {b.seq}")
        for e in entries:
            if e.last_page < e.first_page:
                problems.append(f"row {e.seq} ends before it starts")
            if e.date and not calendar_date(e.date):
                problems.append(f"row {e.seq}: 日期 {e.date!r} is not a date on the calendar")
    return [make_check("completeness", "catalogue", key, not problems,
                       "; ".join(problems[:6]) or f"{len(entries)} documents cover pages 1..{numbered}")]


def check_dossier(folder: Path, trust_roots: list[Path] | None, *, now: datetime | None = None) -> Report:
    """Check a local dossier folder (dossier.json, catalogue.json, volumes/NNN.pdf) for the four properties."""
    now = now or utcnow()
    checks: list[Check] = []
    manifest: DossierManifest | None = _load_json_model(folder / "dossier.json", DossierManifest, "dossier.json",
                                                         checks)
    if manifest is None:
        return make_report("", checks, now)
    catalogue: Catalogue | None = _load_json_model(folder / "catalogue.json", Catalogue, "catalogue.json", checks)
    checks += _catalogue_file_checks(folder, manifest, catalogue)
    checks.append(_volume_set_check(manifest))
    pages_by_volume, page_checks = _page_checks(manifest)
    checks += page_checks
    if catalogue is not None:
        checks.append(_document_check(manifest, catalogue))
    ocr_pages: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for rec in manifest.pages:
        if rec.volume is not None and rec.page is not None and rec.ocr_chars > 0:
            ocr_pages[rec.volume].append((rec.page, rec.ocr_chars))
    for entry in sorted(manifest.volumes, key=lambda v: v.number):
        checks += _dossier_volume_checks(folder, manifest, entry, catalogue, pages_by_volume[entry.number],
                                         ocr_pages[entry.number], trust_roots, now)
    return make_report(manifest.case_no, checks, now)


def _catalogue_file_checks(folder: Path, manifest: DossierManifest, catalogue: Catalogue | None) -> list[Check]:
    """catalogue.json has the digest the manifest names and is for the same case."""
    checks = []
    if manifest.catalogue_sha256 and (folder / "catalogue.json").exists():
        digest = sha256_file(folder / "catalogue.json")
        checks.append(make_check("authenticity", "sha256", "catalogue.json", digest == manifest.catalogue_sha256,
                                 f"SHA-256 {digest[:16]}…" + ("" if digest == manifest.catalogue_sha256 else
                                                              f" ≠ manifest {manifest.catalogue_sha256[:16]}…")))
    if catalogue is not None and catalogue.case_no != manifest.case_no:
        checks.append(make_check("completeness", "catalogue-case", "catalogue.json", False,
                                 f"catalogue is for {catalogue.case_no}, manifest for {manifest.case_no}"))
    return checks


def _volume_set_check(manifest: DossierManifest) -> Check:
    """The volumes are 1..M, each of M."""
    numbers = [v.number for v in manifest.volumes]
    m = len(manifest.volumes)
    problems = []
    if sorted(numbers) != list(range(1, m + 1)):
        missing = sorted(set(range(1, max(numbers + [m]) + 1)) - set(numbers))
        dup = [n for n, c in Counter(numbers).items() if c > 1]
        problems.append(f"volumes {sorted(numbers)}: missing {missing}" + (f", duplicated {dup}" if dup else ""))
    wrong_of = [v.number for v in manifest.volumes if v.of != m]
    if wrong_of:
        problems.append(f"volumes {wrong_of} do not say 'of {m}'")
    if not m:
        problems.append("the dossier has no volume")
    return make_check("completeness", "volume-set", "dossier.json", not problems,
                      "; ".join(problems) or f"volumes 1..{m} of {m}")


def _page_checks(manifest: DossierManifest) -> tuple[dict[int, list[tuple[int, str]]], list[Check]]:
    """Every input page is in exactly one state (in a volume, blank or a separator); the pages of each volume."""
    pages_by_volume: dict[int, list[tuple[int, str]]] = defaultdict(list)
    unaccounted, doubly = [], []
    for rec in manifest.pages:
        in_volume = rec.volume is not None and rec.page is not None
        states = sum([in_volume, rec.blank, rec.separator])
        where = f"{rec.source.file}#{rec.source.index}"
        if states == 0:
            unaccounted.append(where)
        elif states > 1:
            doubly.append(where)
        if in_volume:
            pages_by_volume[rec.volume].append((rec.page, rec.sha256))
    checks = [make_check("completeness", "pages-accounted", "dossier.json", not unaccounted and not doubly,
                         (f"not in a volume, blank or separator: {unaccounted[:5]}; " if unaccounted else "")
                         + (f"in more than one state: {doubly[:5]}" if doubly else "")
                         or f"all {len(manifest.pages)} input pages accounted for")]
    stray = sorted(set(pages_by_volume) - {v.number for v in manifest.volumes})
    if stray:
        checks.append(make_check("completeness", "pages-accounted", "dossier.json", False,
                                 f"pages placed in volumes that do not exist: {stray}"))
    return pages_by_volume, checks


def _document_check(manifest: DossierManifest, catalogue: Catalogue) -> Check:
    """The catalogue rows of all volumes add up to the manifest's documents."""
    per_doc: dict[int, int] = defaultdict(int)
    for vc in catalogue.volumes:
        for e in vc.entries:
            per_doc[e.document] += e.last_page - e.first_page + 1
    problems = []
    declared = {d.index: d.pages for d in manifest.documents}
    if set(per_doc) != set(declared):
        problems.append(f"documents in the catalogue {sorted(per_doc)} ≠ manifest {sorted(declared)}")
    for idx, pages in declared.items():
        if idx in per_doc and per_doc[idx] != pages:
            problems.append(f"document {idx}: {per_doc[idx]} pages in the catalogue, {pages} in the manifest")
    return make_check("completeness", "documents", "catalogue.json", not problems,
                      "; ".join(problems[:6]) or f"{len(declared)} documents match the 卷内目录")


def _fixity(key: str, entry: VolumeEntry, facts) -> tuple[Check, bool]:
    """The volume's bytes are the manifest's — or it is a copy the fetch service made for its reader from the volume
    the manifest names (its XMP says so; its own bytes are certified by the service). Returns (check, a copy)."""
    copy_id = facts.xmp.get("dossier:copyId", "")
    if copy_id and facts.xmp.get("dossier:copySourceSha256") == entry.sha256:
        return make_check("authenticity", "sha256", key, True,
                          f"copy {copy_id} made for {facts.xmp.get('dossier:copyAgency', '')} from the volume the "
                          f"manifest names (SHA-256 {entry.sha256[:16]}…)"), True
    return make_check("authenticity", "sha256", key, facts.sha256 == entry.sha256 and facts.size == entry.bytes,
                      f"SHA-256 {facts.sha256[:16]}…, {facts.size} bytes"
                      + ("" if facts.sha256 == entry.sha256 else f" ≠ manifest {entry.sha256[:16]}…")
                      + ("" if facts.size == entry.bytes else f" (manifest says {entry.bytes} bytes)")), False


def _signature_recorded(key: str, entry: VolumeEntry, sig, copy: bool) -> Check:
    """The signature is the one the manifest recorded (a copy's: the service's certification, valid and trusted)."""
    if copy:
        return make_check("authenticity", "signature-recorded", key, sig.passed,
                          f"copy certified by {sig.signer or 'nobody'} for its reader")
    if entry.signature is None:
        return make_check("authenticity", "signature-recorded", key, False, "the manifest records no signature")
    same = sig.certificate_sha256 == entry.signature.certificate_sha256
    return make_check("authenticity", "signature-recorded", key, same,
                      "signed with the certificate the manifest records" if same else
                      f"signed by {sig.signer or 'nobody'}, manifest records certificate "
                      f"{entry.signature.certificate_sha256[:16]}…")


def _dossier_volume_checks(folder: Path, manifest: DossierManifest, entry: VolumeEntry, catalogue: Catalogue | None,
                           pages: list[tuple[int, str]], ocr: list[tuple[int, int]], trust_roots: list[Path] | None,
                           now: datetime) -> list[Check]:
    key = entry.key
    path = folder / key
    if not path.is_file():
        return [make_check("completeness", "volume-present", key, False, f"volume {entry.number} file is missing")]
    facts, sig = inspect_while_validating(path, entry.pdfa, trust_roots)
    fixity, marked = _fixity(key, entry, facts)
    vchecks, sig = volume_checks(facts, entry.pdfa, trust_roots, key, now, sig)
    checks = [fixity, *vchecks]
    if facts.open_error:
        return checks
    checks.append(_signature_recorded(key, entry, sig, marked))

    # XMP provenance
    xmp = facts.xmp
    expected_root = page_hash_root([h for _, h in sorted(pages)])
    root_ok = xmp.get("dossier:pageHashRoot") == expected_root
    checks.append(make_check("authenticity", "page-hash-root", key, root_ok,
                             f"XMP page hash root {'matches' if root_ok else 'does not match'} the manifest's "
                             f"{len(pages)} page digests"))
    xmp_problems = []
    if xmp.get("dossier:caseNumber") != manifest.case_no:
        xmp_problems.append(f"case number {xmp.get('dossier:caseNumber')!r} ≠ {manifest.case_no!r}")
    standard = f"{xmp.get('dossier:standardId', '')}@{xmp.get('dossier:standardVersion', '')}"
    if standard != manifest.standard:
        xmp_problems.append(f"standard {standard!r} ≠ {manifest.standard!r}")
    checks.append(make_check("authenticity", "xmp-provenance", key, not xmp_problems,
                             "; ".join(xmp_problems) or "XMP case number and standard match the manifest"))
    vol_ok = (xmp.get("dossier:volumeNumber") == str(entry.number)
              and xmp.get("dossier:volumeCount") == str(len(manifest.volumes)))
    checks.append(make_check("completeness", "volume-identity", key, vol_ok,
                             f"XMP says volume {xmp.get('dossier:volumeNumber')} of {xmp.get('dossier:volumeCount')}, "
                             f"manifest {entry.number} of {len(manifest.volumes)}"))

    # Counts: PDF pages, numbered pages, manifest pages
    _, numbered = label_problems(facts.labels)
    count_problems = []
    if facts.pdf_pages != entry.pdf_pages:
        count_problems.append(f"{facts.pdf_pages} PDF pages, manifest says {entry.pdf_pages}")
    if numbered != entry.pages:
        count_problems.append(f"{numbered} numbered pages, manifest says {entry.pages}")
    numbers = sorted(p for p, _ in pages)
    if numbers != list(range(1, entry.pages + 1)):
        count_problems.append(f"manifest places pages {numbers[:3]}…{numbers[-3:]} (n={len(numbers)}) "
                              f"in a volume of {entry.pages}")
    checks.append(make_check("completeness", "page-count", key, not count_problems,
                             "; ".join(count_problems) or f"{numbered} numbered of {facts.pdf_pages} PDF pages"))

    vc = next((v for v in catalogue.volumes if v.volume == entry.number), None) if catalogue else None
    checks += _catalogue_checks(key, entry, vc, numbered)
    if vc is not None:
        missing = [e.title for e in vc.entries if not any(e.title in t for t in facts.outline)]
        checks.append(make_check("usability", "bookmarks", key, not missing,
                                 f"no bookmark for {missing[:5]}" if missing else
                                 f"{len(vc.entries)} documents have bookmarks"))

    # Text layer on every OCRed page
    lacking = []
    for page, _chars in sorted(ocr):
        idx = facts.index_of_page(page)
        if idx is None or idx >= len(facts.invisible_chars) or facts.invisible_chars[idx] == 0:
            lacking.append(page)
    checks.append(make_check("usability", "text-layer", key, not lacking,
                             f"OCRed pages without a text layer: {lacking[:10]}" if lacking else
                             f"{len(ocr)} OCRed pages carry a text layer"))
    return checks

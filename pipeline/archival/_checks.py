"""The four-property check (DA/T 70-2018 四性: authenticity, completeness, usability, security) of volumes and dossiers.

``check_volume`` judges one signed PDF/A volume on its own; ``check_dossier`` judges a local dossier folder
(``dossier.json``, ``catalogue.json``, ``volumes/NNN.pdf``) against its manifest and 卷内目录. Every check that runs is
recorded, passed or not, with the property, the subject (volume key or page) and the reason.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pikepdf
from pydantic import ValidationError

from pipeline import __version__
from pipeline.archival._pdfa import page_hash_root, read_xmp
from pipeline.archival._sign import SignatureCheck, validate_signature
from pipeline.archival._validators import (
    ValidationResult,
    qpdf_check,
    structure_check,
    structure_check_in_child,
    validate_pdfa,
)
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

Property = Literal["authenticity", "completeness", "usability", "security"]
PROPERTIES: tuple[Property, ...] = ("authenticity", "completeness", "usability", "security")
TOOL = f"scan-to-dossier {__version__} checks"
FRONT_LABEL = re.compile(r"^(封面|目录-\d+)$")
BACK_LABEL = "备考表"
RENDER_DPI = 12  # enough to make MuPDF decode and draw every object on the page

_BAD_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "launch action", "/URI": "external link (URI action)",
                "/GoToR": "remote go-to action", "/GoToE": "embedded go-to action", "/ImportData": "import action",
                "/SubmitForm": "form submission"}

# PDF/A verdicts by (file SHA-256, level): Preflight costs seconds, and a file checked before publishing is often
# checked again after a fetch in the same process.
_pdfa_cache: dict[tuple[str, str], ValidationResult] = {}


@dataclass
class VolumeFacts:
    """What one volume file holds, read once for all checks."""

    path: Path
    sha256: str = ""
    size: int = 0
    open_error: str = ""
    encrypted: bool = False
    pdf_pages: int = 0
    labels: list[str] = field(default_factory=list)
    xmp: dict[str, str] = field(default_factory=dict)
    outline: list[str] = field(default_factory=list)
    invisible_chars: list[int] = field(default_factory=list)
    render_errors: list[str] = field(default_factory=list)
    active_content: list[str] = field(default_factory=list)

    def numbered(self) -> list[int]:
        """0-based PDF page indexes whose label is a page number."""
        return [i for i, label in enumerate(self.labels) if label.isdigit()]

    def index_of_page(self, number: int) -> int | None:
        """PDF page index of numbered page ``number`` (by its label), or None."""
        text = str(number)
        return next((i for i, label in enumerate(self.labels) if label == text), None)


# ------------------------------------------------------------------------------------------------------------------
# Reading a volume


def _decode_text(value: object) -> str:
    """A PDF text string as str; raw UTF-8 without a BOM (as PyMuPDF writes labels) is read as UTF-8."""
    if not isinstance(value, pikepdf.String):
        return str(value) if value is not None else ""
    raw = bytes(value)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "replace")
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return str(value)


def _roman(n: int) -> str:
    out = []
    for value, sym in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"),
                       (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _label_number(style: str, n: int) -> str:
    if style == "/D":
        return str(n)
    if style in ("/R", "/r"):
        r = _roman(n)
        return r.upper() if style == "/R" else r
    if style in ("/A", "/a"):
        letter = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if style == "/A" else letter.lower()
    return ""


def _number_tree(node: object, depth: int = 0) -> list[tuple[int, object]]:
    if not isinstance(node, pikepdf.Dictionary) or depth > 32:
        return []
    out = []
    nums = node.get("/Nums")
    if isinstance(nums, pikepdf.Array):
        out += [(int(nums[i]), nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
    for kid in node.get("/Kids", pikepdf.Array()):
        out += _number_tree(kid, depth + 1)
    return out


def page_labels(pdf: pikepdf.Pdf) -> list[str]:
    """The label of every page (PDF page labels; a page without one gets its 1-based index as text)."""
    n = len(pdf.pages)
    ranges = sorted(_number_tree(pdf.Root.get("/PageLabels")), key=lambda r: r[0])
    labels = [str(i + 1) for i in range(n)]
    for k, (start, spec) in enumerate(ranges):
        end = ranges[k + 1][0] if k + 1 < len(ranges) else n
        spec = spec if isinstance(spec, pikepdf.Dictionary) else pikepdf.Dictionary()
        prefix = _decode_text(spec.get("/P"))
        style = str(spec.get("/S", ""))
        first = int(spec.get("/St", 1))
        for i in range(max(start, 0), min(end, n)):
            labels[i] = prefix + _label_number(style, first + i - start)
    return labels


def _outline_titles(pdf: pikepdf.Pdf) -> list[str]:
    titles: list[str] = []

    def walk(item: object, depth: int) -> None:
        count = 0
        while isinstance(item, pikepdf.Dictionary) and depth < 16 and count < 100_000:
            titles.append(_decode_text(item.get("/Title")))
            walk(item.get("/First"), depth + 1)
            item = item.get("/Next")
            count += 1

    outlines = pdf.Root.get("/Outlines")
    if isinstance(outlines, pikepdf.Dictionary):
        walk(outlines.get("/First"), 0)
    return titles


def _walk(root: object, limit: int = 2_000_000) -> Iterable[tuple[pikepdf.Dictionary, str]]:
    """Every dictionary (stream dictionaries included) reachable from ``root``, direct or indirect, once each,
    with the number of the nearest indirect object holding it."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[object, str]] = [(root, "trailer")]
    visited = 0
    while stack and visited < limit:
        obj, where = stack.pop()
        visited += 1
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Array)):
            gen = obj.objgen
            if gen != (0, 0):
                if gen in seen:
                    continue
                seen.add(gen)
                where = f"object {gen[0]}"
        if isinstance(obj, pikepdf.Array):
            stack.extend((item, where) for item in obj if isinstance(item, (pikepdf.Dictionary, pikepdf.Array)))
        elif isinstance(obj, pikepdf.Dictionary):
            yield obj, where
            for key in obj.keys():
                if key == "/Parent":
                    continue
                value = obj.get(key)
                if isinstance(value, (pikepdf.Dictionary, pikepdf.Array)):
                    stack.append((value, where))


def _active_content(pdf: pikepdf.Pdf) -> list[str]:
    """Every JavaScript, launch/URI/remote action, embedded file and external reference anywhere in the file."""
    found: list[str] = []
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, what in (("/JavaScript", "document JavaScript"), ("/EmbeddedFiles", "embedded files")):
            if key in names:
                found.append(what)
    for obj, where in _walk(pdf.trailer):
        action = obj.get("/S")
        if isinstance(action, pikepdf.Name) and str(action) in _BAD_ACTIONS:
            found.append(f"{_BAD_ACTIONS[str(action)]} in {where}")
        if "/JS" in obj:
            found.append(f"JavaScript in {where}")
        if "/EF" in obj:
            found.append(f"embedded file in {where}")
        if obj.get("/Subtype") == "/FileAttachment":
            found.append(f"file attachment annotation in {where}")
        if "/Ref" in obj and obj.get("/Subtype") == "/Form":
            found.append(f"reference XObject (external content) in {where}")
    return sorted(set(found), key=found.index)


def inspect_volume(path: Path) -> VolumeFacts:
    """Read a volume's digest, labels, XMP, outline, text layer, rendering and active content."""
    import pymupdf

    facts = VolumeFacts(path=path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        facts.open_error = f"cannot read {path}: {exc}"
        return facts
    facts.sha256, facts.size = hashlib.sha256(data).hexdigest(), len(data)
    try:
        with pikepdf.open(path) as pdf:
            facts.encrypted = pdf.is_encrypted
            facts.pdf_pages = len(pdf.pages)
            facts.labels = page_labels(pdf)
            facts.xmp = read_xmp(pdf)
            facts.outline = _outline_titles(pdf)
            facts.active_content = _active_content(pdf)
    except pikepdf.PasswordError:
        facts.encrypted = True
        facts.open_error = "the file is encrypted"
        return facts
    except pikepdf.PdfError as exc:
        facts.open_error = f"not a readable PDF: {exc}"
        return facts
    try:
        doc = pymupdf.open(path)
    except Exception as exc:  # MuPDF raises its own errors on damaged files
        facts.render_errors.append(f"MuPDF cannot open the file: {exc}")
        return facts
    with doc:
        for i in range(doc.page_count):
            try:
                page = doc[i]
                page.get_pixmap(dpi=RENDER_DPI, alpha=False)
                facts.invisible_chars.append(
                    sum(len(span["chars"]) for span in page.get_texttrace() if span.get("type") == 3))
            except Exception as exc:
                facts.render_errors.append(f"page {i + 1} does not render: {exc}")
                facts.invisible_chars.append(0)
    return facts


# ------------------------------------------------------------------------------------------------------------------
# Checks on one volume


def _check(prop: Property, name: str, subject: str, passed: bool, detail: str = "") -> Check:
    return Check(property=prop, name=name, subject=subject, passed=bool(passed), detail=detail)


def _pdfa_verdict(facts: VolumeFacts, level: str) -> ValidationResult:
    key = (facts.sha256, level)
    if key not in _pdfa_cache:
        _pdfa_cache[key] = validate_pdfa(facts.path, level)
    return _pdfa_cache[key]


def _inspect_while_validating(path: Path, level: str, trust_roots: list[Path] | None
                              ) -> tuple[VolumeFacts, SignatureCheck | None]:
    """Inspect a volume and validate its signature while its PDF/A validator (a separate Java process for 1b) and its
    structure check (a child Python process) run beside them; returns the facts and the signature verdict (None if
    the file is unreadable).

    On a 200-page volume Preflight takes ~2 s, the structure check ~1.5 s and the in-process work ~3.5 s; side by side
    they take about the longest instead of their sum. The verdicts land in the caches that ``_pdfa_verdict`` and
    ``_qpdf_verdict`` read.
    """
    def in_process() -> tuple[VolumeFacts, SignatureCheck | None]:
        facts = inspect_volume(path)
        if facts.open_error:
            return facts, None
        return facts, validate_signature(path, trust_roots)

    try:
        digest = _sha256(path)
    except OSError:
        return in_process()
    with ThreadPoolExecutor(max_workers=2) as pool:
        pdfa = None if (digest, level) in _pdfa_cache else pool.submit(validate_pdfa, path, level)
        structure = None if digest in _qpdf_cache else pool.submit(structure_check_in_child, path)
        facts, sig = in_process()
        pdfa_result = pdfa.result() if pdfa else None
        structure_result = structure.result() if structure else None
    if facts.sha256 == digest:  # the file did not change under us
        if pdfa_result is not None:
            _pdfa_cache[(digest, level)] = pdfa_result
        if structure_result is not None and not facts.open_error:
            _qpdf_cache[digest] = structure_result
    return facts, sig


def _label_problems(labels: list[str]) -> tuple[list[str], int]:
    """Problems with the page labels of a volume, and its number of numbered pages."""
    numbered = [i for i, label in enumerate(labels) if label.isdigit()]
    if not numbered:
        return ["no page is labelled with a page number"], 0
    problems = []
    values = [int(labels[i]) for i in numbered]
    expected = list(range(1, len(numbered) + 1))
    if values != expected:
        gaps = [f"{a}→{b}" for a, b in zip(values, values[1:]) if b != a + 1]
        start = "" if values[0] == 1 else f"numbering starts at {values[0]}; "
        problems.append(f"{start}page numbers not continuous: {', '.join(gaps[:5]) or 'out of order'}")
    if numbered != list(range(numbered[0], numbered[0] + len(numbered))):
        problems.append("numbered pages are interrupted by unnumbered pages")
    front, back = labels[:numbered[0]], labels[numbered[-1] + 1:]
    bad_front = [label for label in front if not FRONT_LABEL.match(label)]
    if bad_front:
        problems.append(f"front matter labelled {bad_front[:3]} (expected 封面, 目录-1…)")
    if back != [BACK_LABEL]:
        problems.append(f"back matter labelled {back[:3]} (expected one 备考表)")
    return problems, len(numbered)


def _signature_checks(subject: str, sig: SignatureCheck, now: datetime) -> list[Check]:
    detail = (f"{sig.pades_level}, signer {sig.signer}, coverage {sig.coverage}"
              + (f"; {'; '.join(sig.errors)}" if sig.errors else "")
              + (f"; warning: {'; '.join(sig.warnings)}" if sig.warnings else ""))
    checks = [
        _check("authenticity", "signature", subject, sig.present and sig.intact and sig.valid and sig.signatures == 1,
               detail),
        _check("authenticity", "signature-coverage", subject, sig.coverage == "ENTIRE_FILE",
               f"coverage {sig.coverage}" + (
                   "" if sig.coverage == "ENTIRE_FILE" else
                   f": {'; '.join(sig.errors) or 'not established'}" if sig.coverage == "NONE" else
                   ": bytes were added after the signed revision")),
        _check("authenticity", "signer-trusted", subject, sig.trusted,
               f"{sig.signer or 'no signer'}" + ("" if sig.trusted else ": does not chain to the trust roots")),
    ]
    if sig.not_after is None:
        checks.append(_check("security", "certificate-expiry", subject, False, "no signer certificate"))
    else:
        expired = sig.not_after <= now
        checks.append(_check("security", "certificate-expiry", subject, not expired,
                             f"signer certificate {'expired' if expired else 'valid until'} "
                             f"{sig.not_after:%Y-%m-%d}"))
    return checks


def _volume_checks(facts: VolumeFacts, level: str, trust_roots: list[Path] | None, subject: str,
                   now: datetime, sig: SignatureCheck | None = None) -> tuple[list[Check], SignatureCheck]:
    """The checks a volume file supports without its manifest."""
    checks: list[Check] = []
    if facts.open_error:
        checks.append(_check("usability", "readable", subject, False, facts.open_error))
        if facts.encrypted:
            checks.append(_check("security", "encryption", subject, False, "the file is encrypted"))
        return checks, SignatureCheck(errors=[facts.open_error])
    sig = sig or validate_signature(facts.path, trust_roots)
    checks += _signature_checks(subject, sig, now)

    problems, _ = _label_problems(facts.labels)
    checks.append(_check("completeness", "page-labels", subject, not problems,
                         "; ".join(problems) or f"{len(facts.numbered())} pages numbered 1..{len(facts.numbered())}"))
    vol, of = facts.xmp.get("dossier:volumeNumber", ""), facts.xmp.get("dossier:volumeCount", "")
    ok = vol.isdigit() and of.isdigit() and 1 <= int(vol) <= int(of)
    checks.append(_check("completeness", "volume-number", subject, ok,
                         f"volume {vol or '?'} of {of or '?'} (XMP)" + ("" if ok else ": missing or out of range")))

    pdfa = _pdfa_verdict(facts, level)
    checks.append(_check("usability", f"pdfa-{level}", subject, pdfa.valid, pdfa.summary(8)))
    part = facts.xmp.get("pdfaid:part", "")
    checks.append(_check("usability", "pdfa-identification", subject, part == level[0],
                         f"XMP declares PDF/A-{part or '?'}{facts.xmp.get('pdfaid:conformance', '').lower()}, "
                         f"expected {level}"))
    qpdf = _qpdf_verdict(facts)
    checks.append(_check("usability", "structure", subject, qpdf.valid, qpdf.summary(5)))
    checks.append(_check("usability", "pages-render", subject, not facts.render_errors,
                         "; ".join(facts.render_errors[:5]) or f"all {facts.pdf_pages} pages render"))

    checks.append(_check("security", "encryption", subject, not facts.encrypted,
                         "encrypted" if facts.encrypted else "not encrypted"))
    checks.append(_check("security", "active-content", subject, not facts.active_content,
                         "; ".join(facts.active_content[:8]) or
                         "no JavaScript, launch or URI actions, embedded files or external references"))
    return checks, sig


_qpdf_cache: dict[str, ValidationResult] = {}


def _qpdf_verdict(facts: VolumeFacts) -> ValidationResult:
    if facts.sha256 not in _qpdf_cache:
        _qpdf_cache[facts.sha256] = structure_check(facts.path)
    return _qpdf_cache[facts.sha256]


def qpdf_cli_checks(volumes: list[tuple[str, Path]]) -> list[Check]:
    """`qpdf --check` by the qpdf command itself on each (subject, path): the independent second opinion that
    `dossier verify` and the demo add to the in-process structure check (it costs ~0.4 CPU-s per JPEG page)."""
    checks = []
    for subject, path in volumes:
        result = qpdf_check(path)
        checks.append(_check("usability", "qpdf-check", subject, result.valid, result.summary(5) or "qpdf --check: ok"))
    return checks


def check_volume(path: Path, level: str, trust_roots: list[Path] | None, *, subject: str | None = None,
                 now: datetime | None = None) -> list[Check]:
    """Check one signed PDF/A volume on its own: signature, page labels, PDF/A, rendering, active content."""
    facts, sig = _inspect_while_validating(path, level, trust_roots)
    checks, _ = _volume_checks(facts, level, trust_roots, subject or path.name, now or datetime.now(timezone.utc),
                               sig)
    return checks


# ------------------------------------------------------------------------------------------------------------------
# Checks on a dossier


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
    return Report(case_no=case_no, checked_at=now or datetime.now(timezone.utc), tool=TOOL,
                  summary=summarise(checks), checks=checks)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_json_model(path: Path, model, label: str, checks: list[Check]):
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        checks.append(_check("completeness", f"{label}-present", label, False, f"{path.name} is missing"))
    except (OSError, ValidationError, ValueError) as exc:
        checks.append(_check("usability", f"{label}-valid", label, False,
                             f"{path.name} is not a valid {model.__name__}: {str(exc)[:300]}"))
    return None


def _catalogue_checks(key: str, entry: VolumeEntry, vc: VolumeCatalogue | None, numbered: int) -> list[Check]:
    if vc is None:
        return [_check("completeness", "catalogue", key, False, f"卷内目录 of volume {entry.number} is missing")]
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
    return [_check("completeness", "catalogue", key, not problems,
                   "; ".join(problems[:6]) or f"{len(entries)} documents cover pages 1..{numbered}")]


def check_dossier(folder: Path, trust_roots: list[Path] | None, *, now: datetime | None = None) -> Report:
    """Check a local dossier folder (dossier.json, catalogue.json, volumes/NNN.pdf) for the four properties."""
    now = now or datetime.now(timezone.utc)
    checks: list[Check] = []
    manifest: DossierManifest | None = _load_json_model(folder / "dossier.json", DossierManifest, "dossier.json",
                                                         checks)
    if manifest is None:
        return make_report("", checks, now)
    catalogue: Catalogue | None = _load_json_model(folder / "catalogue.json", Catalogue, "catalogue.json", checks)
    case = manifest.case_no

    # Files and their digests
    if manifest.catalogue_sha256 and (folder / "catalogue.json").exists():
        digest = _sha256(folder / "catalogue.json")
        checks.append(_check("authenticity", "sha256", "catalogue.json", digest == manifest.catalogue_sha256,
                             f"SHA-256 {digest[:16]}…" + ("" if digest == manifest.catalogue_sha256 else
                                                          f" ≠ manifest {manifest.catalogue_sha256[:16]}…")))
    if catalogue is not None and catalogue.case_no != case:
        checks.append(_check("completeness", "catalogue-case", "catalogue.json", False,
                             f"catalogue is for {catalogue.case_no}, manifest for {case}"))

    # Volume set: 1..M, each of M
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
    checks.append(_check("completeness", "volume-set", "dossier.json", not problems,
                         "; ".join(problems) or f"volumes 1..{m} of {m}"))

    # Input pages accounted for
    pages_by_volume: dict[int, list[tuple[int, str]]] = defaultdict(list)
    unaccounted, doubly = [], []
    for i, rec in enumerate(manifest.pages):
        in_volume = rec.volume is not None and rec.page is not None
        states = sum([in_volume, rec.blank, rec.separator])
        where = f"{rec.source.file}#{rec.source.index}"
        if states == 0:
            unaccounted.append(where)
        elif states > 1:
            doubly.append(where)
        if in_volume:
            pages_by_volume[rec.volume].append((rec.page, rec.sha256))
    checks.append(_check("completeness", "pages-accounted", "dossier.json", not unaccounted and not doubly,
                         (f"not in a volume, blank or separator: {unaccounted[:5]}; " if unaccounted else "")
                         + (f"in more than one state: {doubly[:5]}" if doubly else "")
                         or f"all {len(manifest.pages)} input pages accounted for"))
    stray = sorted(set(pages_by_volume) - set(numbers))
    if stray:
        checks.append(_check("completeness", "pages-accounted", "dossier.json", False,
                             f"pages placed in volumes that do not exist: {stray}"))

    # Documents: the catalogue rows of all volumes add up to the manifest's documents
    if catalogue is not None:
        per_doc: dict[int, int] = defaultdict(int)
        for vc in catalogue.volumes:
            for e in vc.entries:
                per_doc[e.document] += e.last_page - e.first_page + 1
        doc_problems = []
        declared = {d.index: d.pages for d in manifest.documents}
        if set(per_doc) != set(declared):
            doc_problems.append(f"documents in the catalogue {sorted(per_doc)} ≠ manifest {sorted(declared)}")
        for idx, pages in declared.items():
            if idx in per_doc and per_doc[idx] != pages:
                doc_problems.append(f"document {idx}: {per_doc[idx]} pages in the catalogue, {pages} in the manifest")
        checks.append(_check("completeness", "documents", "catalogue.json", not doc_problems,
                             "; ".join(doc_problems[:6]) or f"{len(declared)} documents match the 卷内目录"))

    ocr_pages: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for rec in manifest.pages:
        if rec.volume is not None and rec.page is not None and rec.ocr_chars > 0:
            ocr_pages[rec.volume].append((rec.page, rec.ocr_chars))

    for entry in sorted(manifest.volumes, key=lambda v: v.number):
        checks += _dossier_volume_checks(folder, manifest, entry, catalogue, pages_by_volume[entry.number],
                                         ocr_pages[entry.number], trust_roots, now)
    return make_report(case, checks, now)


def _dossier_volume_checks(folder: Path, manifest: DossierManifest, entry: VolumeEntry, catalogue: Catalogue | None,
                           pages: list[tuple[int, str]], ocr: list[tuple[int, int]], trust_roots: list[Path] | None,
                           now: datetime) -> list[Check]:
    key = entry.key
    path = folder / key
    if not path.is_file():
        return [_check("completeness", "volume-present", key, False, f"volume {entry.number} file is missing")]
    facts, sig = _inspect_while_validating(path, entry.pdfa, trust_roots)
    checks = [_check("authenticity", "sha256", key, facts.sha256 == entry.sha256 and facts.size == entry.bytes,
                     f"SHA-256 {facts.sha256[:16]}…, {facts.size} bytes"
                     + ("" if facts.sha256 == entry.sha256 else f" ≠ manifest {entry.sha256[:16]}…")
                     + ("" if facts.size == entry.bytes else f" (manifest says {entry.bytes} bytes)"))]
    vchecks, sig = _volume_checks(facts, entry.pdfa, trust_roots, key, now, sig)
    checks += vchecks
    if facts.open_error:
        return checks

    # The signature is the one the manifest recorded
    if entry.signature is None:
        checks.append(_check("authenticity", "signature-recorded", key, False, "the manifest records no signature"))
    else:
        same = sig.certificate_sha256 == entry.signature.certificate_sha256
        checks.append(_check("authenticity", "signature-recorded", key, same,
                             "signed with the certificate the manifest records" if same else
                             f"signed by {sig.signer or 'nobody'}, manifest records certificate "
                             f"{entry.signature.certificate_sha256[:16]}…"))

    # XMP provenance
    xmp = facts.xmp
    expected_root = page_hash_root([h for _, h in sorted(pages)])
    root_ok = xmp.get("dossier:pageHashRoot") == expected_root
    checks.append(_check("authenticity", "page-hash-root", key, root_ok,
                         f"XMP page hash root {'matches' if root_ok else 'does not match'} the manifest's "
                         f"{len(pages)} page digests"))
    xmp_problems = []
    if xmp.get("dossier:caseNumber") != manifest.case_no:
        xmp_problems.append(f"case number {xmp.get('dossier:caseNumber')!r} ≠ {manifest.case_no!r}")
    standard = f"{xmp.get('dossier:standardId', '')}@{xmp.get('dossier:standardVersion', '')}"
    if standard != manifest.standard:
        xmp_problems.append(f"standard {standard!r} ≠ {manifest.standard!r}")
    checks.append(_check("authenticity", "xmp-provenance", key, not xmp_problems,
                         "; ".join(xmp_problems) or "XMP case number and standard match the manifest"))
    vol_ok = (xmp.get("dossier:volumeNumber") == str(entry.number)
              and xmp.get("dossier:volumeCount") == str(len(manifest.volumes)))
    checks.append(_check("completeness", "volume-identity", key, vol_ok,
                         f"XMP says volume {xmp.get('dossier:volumeNumber')} of {xmp.get('dossier:volumeCount')}, "
                         f"manifest {entry.number} of {len(manifest.volumes)}"))

    # Counts: PDF pages, numbered pages, manifest pages
    _, numbered = _label_problems(facts.labels)
    count_problems = []
    if facts.pdf_pages != entry.pdf_pages:
        count_problems.append(f"{facts.pdf_pages} PDF pages, manifest says {entry.pdf_pages}")
    if numbered != entry.pages:
        count_problems.append(f"{numbered} numbered pages, manifest says {entry.pages}")
    numbers = sorted(p for p, _ in pages)
    if numbers != list(range(1, entry.pages + 1)):
        count_problems.append(f"manifest places pages {numbers[:3]}…{numbers[-3:]} (n={len(numbers)}) "
                              f"in a volume of {entry.pages}")
    checks.append(_check("completeness", "page-count", key, not count_problems,
                         "; ".join(count_problems) or f"{numbered} numbered of {facts.pdf_pages} PDF pages"))

    vc = next((v for v in catalogue.volumes if v.volume == entry.number), None) if catalogue else None
    checks += _catalogue_checks(key, entry, vc, numbered)
    if vc is not None:
        missing = [e.title for e in vc.entries if not any(e.title in t for t in facts.outline)]
        checks.append(_check("usability", "bookmarks", key, not missing,
                             f"no bookmark for {missing[:5]}" if missing else
                             f"{len(vc.entries)} documents have bookmarks"))

    # Text layer on every OCRed page
    lacking = []
    for page, chars in sorted(ocr):
        idx = facts.index_of_page(page)
        if idx is None or idx >= len(facts.invisible_chars) or facts.invisible_chars[idx] == 0:
            lacking.append(page)
    checks.append(_check("usability", "text-layer", key, not lacking,
                         f"OCRed pages without a text layer: {lacking[:10]}" if lacking else
                         f"{len(ocr)} OCRed pages carry a text layer"))
    return checks

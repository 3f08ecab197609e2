"""Independent validators: PDFBox Preflight (PDF/A-1b), qpdf --check, and a pikepdf-based PDF/A-2b checker.

Each returns a :class:`ValidationResult`; a validator that cannot run (missing Java, timeout, crash) gives an invalid
result whose error says so, never a pass.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

from pipeline.archival._xmp import NS
from pipeline.common import ToolResult, run_tool

JAVA_DIR = Path("/usr/share/java")
PREFLIGHT_JARS = ("preflight.jar", "pdfbox2.jar", "fontbox2.jar", "xmpbox.jar", "commons-logging.jar",
                  "javax.activation.jar", "jaxb-api.jar")
PREFLIGHT_CLASS = "org.apache.pdfbox.preflight.Validator_A1b"

# XMP namespaces a PDF/A file may use without declaring them (ISO 19005-1 6.7.8 / 19005-2 6.6.2.3).
PREDEFINED_XMP = frozenset({
    "http://purl.org/dc/elements/1.1/", "http://ns.adobe.com/xap/1.0/", "http://ns.adobe.com/pdf/1.3/",
    "http://ns.adobe.com/xap/1.0/rights/", "http://ns.adobe.com/xap/1.0/mm/", "http://ns.adobe.com/xap/1.0/bj/",
    "http://ns.adobe.com/xap/1.0/t/pg/", "http://ns.adobe.com/xap/1.0/g/img/", "http://ns.adobe.com/photoshop/1.0/",
    "http://ns.adobe.com/tiff/1.0/", "http://ns.adobe.com/exif/1.0/", "http://ns.adobe.com/exif/1.0/aux/",
    "http://ns.adobe.com/camera-raw-settings/1.0/", "http://ns.adobe.com/StockPhoto/1.0/",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/", "http://www.aiim.org/pdfa/ns/id/",
    "http://www.aiim.org/pdfa/ns/extension/", "http://www.aiim.org/pdfa/ns/schema#",
    "http://www.aiim.org/pdfa/ns/property#", "http://www.aiim.org/pdfa/ns/type#", "http://www.aiim.org/pdfa/ns/field#",
    "http://www.npes.org/pdfx/ns/id/", "http://ns.adobe.com/pdfx/1.3/",
})
EXTENSION_NAMESPACES = frozenset({NS["pdfaExtension"], NS["pdfaSchema"], NS["pdfaProperty"],
                                  "http://www.aiim.org/pdfa/ns/type#", "http://www.aiim.org/pdfa/ns/field#"})
# pikepdf.pdfa reports every extension-schema namespace and property under these rules (its documented limitation).
PIKEPDF_XMP_NAMESPACE_RULES = ("ISO_19005_1:6.7.9-2", "ISO_19005_2:6.6.2.3.1-1")


@dataclass(frozen=True)
class ValidationIssue:
    """One error reported by a validator: its code (rule), message and page (1-based) when known."""

    code: str
    message: str
    page: int | None = None

    def __str__(self) -> str:
        where = f" (page {self.page})" if self.page else ""
        return f"{self.code}: {self.message}{where}"


@dataclass
class ValidationResult:
    """Verdict of one validator on one file; ``ignored`` lists findings set aside as known validator limits."""

    valid: bool
    errors: list[ValidationIssue] = field(default_factory=list)
    tool: str = ""
    ignored: list[ValidationIssue] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def summary(self, limit: int = 5) -> str:
        """One line: the verdict and the first errors."""
        if self.valid:
            return f"{self.tool}: valid"
        shown = "; ".join(str(e) for e in self.errors[:limit])
        more = f" (+{len(self.errors) - limit} more)" if len(self.errors) > limit else ""
        return f"{self.tool}: invalid: {shown}{more}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _NoResult(Exception):
    """A validator that timed out or could not start."""


def _run(cmd: list[str], timeout: float, what: str) -> tuple[ToolResult | str, float]:
    """Run a validator: (its result, or why there is none; the CPU seconds it took)."""
    before = _children_cpu()
    try:
        result: ToolResult | str = run_tool(cmd, what=what, timeout=timeout, env={"LC_ALL": "C.UTF-8"}, check=False,
                                            error=_NoResult)
    except _NoResult as exc:
        result = str(exc)
    return result, _children_cpu() - before


def preflight_classpath(java_dir: Path = JAVA_DIR) -> str:
    """The PDFBox Preflight classpath from Debian's jars (libpdfbox2-java, libactivation-java, libjaxb-api-java)."""
    return ":".join(str(java_dir / jar) for jar in PREFLIGHT_JARS)


def parse_preflight_xml(text: str) -> tuple[bool, list[ValidationIssue]]:
    """Parse Preflight's ``xml`` report into (valid, errors); raises ValueError if it is not such a report."""
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<preflight")
    if start < 0:
        raise ValueError("no Preflight XML report in the output")
    root = ET.fromstring(text[start:].encode("utf-8"))
    valid = (root.findtext("isValid") or "").strip() == "true"
    errors = []
    for err in root.iter("error"):
        page = err.findtext("page")
        errors.append(ValidationIssue(
            code=(err.findtext("code") or "?").strip(),
            message=(err.findtext("details") or "").strip(),
            page=int(page) + 1 if page and page.strip().isdigit() else None,
        ))
    return valid and not errors, errors


def preflight_pdfa1b(path: Path, timeout: float = 180.0, java: str = "java", xmx: str = "1g") -> ValidationResult:
    """Validate a file against PDF/A-1b with Apache PDFBox Preflight (~1 s + ~35 ms/page, up to ~700 MB heap)."""
    tool = "PDFBox Preflight PDF/A-1b"
    missing = [jar for jar in PREFLIGHT_JARS if not (JAVA_DIR / jar).exists()]
    if missing:
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: Preflight jars missing: "
                                                         f"{', '.join(missing)} (install libpdfbox2-java, "
                                                         "libactivation-java, libjaxb-api-java)")], tool)
    # The serial collector halves Preflight's CPU time and memory on a 200-page volume (measured: ~8 s and
    # ~400 MB instead of ~17 s and ~1.1 GB with the default parallel collector). A run lasts a few seconds, too
    # short for the optimising compiler to pay off: the quick one alone took 2.2 CPU-s instead of 4.0 and 1.8 s
    # instead of 2.5 s of wall time on a 200-page volume.
    cmd = [java, f"-Xmx{xmx}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
           "-cp", preflight_classpath(), PREFLIGHT_CLASS, "xml", str(path)]
    result, cpu = _run(cmd, timeout, "Preflight")
    if isinstance(result, str):
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: {result}")], tool, cpu_seconds=cpu)
    rc, out, err = result.returncode, result.text(), result.stderr.decode("utf-8", "replace")
    try:
        valid, errors = parse_preflight_xml(out)
    except (ValueError, ET.ParseError):
        tail = (err or out).strip().splitlines()[-3:]
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: Preflight failed (exit {rc}): "
                                                         + " | ".join(tail))], tool, cpu_seconds=cpu)
    return ValidationResult(valid, errors, tool, cpu_seconds=cpu)


def qpdf_check(path: Path, timeout: float = 120.0) -> ValidationResult:
    """Structural check with ``qpdf --check`` (exit 0 = clean; warnings count as errors for an archive)."""
    tool = "qpdf --check"
    result, cpu = _run(["qpdf", "--check", str(path)], timeout, "qpdf --check")
    if isinstance(result, str):
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: {result}")], tool, cpu_seconds=cpu)
    rc, out, err = result.returncode, result.text(), result.stderr.decode("utf-8", "replace")
    if rc == 0:
        return ValidationResult(True, [], tool, cpu_seconds=cpu)
    lines = [ln.strip() for ln in (err + "\n" + out).splitlines() if ln.strip()]
    problems = [ln for ln in lines if re.search(r"warning|error|damaged|invalid", ln, re.I)
                and not ln.startswith("No syntax or stream encoding errors")] or lines[-3:]
    code = "qpdf-warning" if rc == 3 else "qpdf-error"
    return ValidationResult(False, [ValidationIssue(code, ln) for ln in problems], tool, cpu_seconds=cpu)


def structure_check(path: Path) -> ValidationResult:
    """The steps of ``qpdf --check`` run in-process by pikepdf's libqpdf (any warning or error fails).

    Debian's qpdf 11.3 CLI spends ~0.36 CPU-s per colour JPEG page in --check (measured); libqpdf 12 through pikepdf
    checked a 200-page volume in ~3.5 CPU-s, so the report uses this and the tests keep the CLI as a second opinion.
    """
    tool = f"qpdf {pikepdf.__libqpdf_version__} syntax check (pikepdf)"
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with pikepdf.open(path) as pdf:
            problems = pdf.check_pdf_syntax()
            problems += [f"WARNING: {w}" for w in pdf.get_warnings() if f"WARNING: {w}" not in problems]
    except pikepdf.PdfError as exc:
        problems = [f"ERROR: {exc}"]
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    errors = [ValidationIssue("qpdf-warning" if p.startswith("WARNING") else "qpdf-error", p) for p in problems]
    return ValidationResult(not errors, errors, tool, cpu_seconds=cpu)


def structure_check_in_child(path: Path, timeout: float = 120.0) -> ValidationResult:
    """:func:`structure_check` in a child Python process: libqpdf holds the GIL while it checks, so in a child it runs
    on the other core beside the in-process inspection instead of after it (~1.5 s on a 200-page volume)."""
    result, cpu = _run([sys.executable, "-m", __name__, "structure", str(path)], timeout, "structure check")
    tool = "qpdf syntax check (pikepdf)"
    if isinstance(result, str):
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: {result}")], tool, cpu_seconds=cpu)
    rc, out, err = result.returncode, result.text(), result.stderr.decode("utf-8", "replace")
    try:
        data = json.loads(out)
        errors = [ValidationIssue(code, message) for code, message in data["errors"]]
        return ValidationResult(bool(data["valid"]) and not errors, errors, data["tool"], cpu_seconds=cpu)
    except (ValueError, KeyError, TypeError):
        tail = " | ".join(err.strip().splitlines()[-3:])
        return ValidationResult(False, [ValidationIssue("tool-error", f"{path.name}: structure check failed (exit "
                                                         f"{rc}): {tail}")], tool, cpu_seconds=cpu)


# ------------------------------------------------------------------------------------------------------------------
# PDF/A-2b (and a second opinion on 1b) with pikepdf.pdfa


def extension_schema_problems(xmp: bytes) -> tuple[list[str], set[str]]:
    """Check the XMP's extension schemas: return (problems, namespace URIs properly declared)."""
    rdf = NS["rdf"]
    try:
        root = ET.fromstring(xmp)
    except ET.ParseError as exc:
        return [f"XMP is not well-formed: {exc}"], set()
    declared: dict[str, set[str]] = {}
    problems = []
    for schema in root.iter(f"{{{NS['pdfaExtension']}}}schemas"):
        for item in schema.iter(f"{{{rdf}}}li"):
            uri = item.findtext(f"{{{NS['pdfaSchema']}}}namespaceURI")
            prefix = item.findtext(f"{{{NS['pdfaSchema']}}}prefix")
            if uri is None:
                continue
            if not prefix:
                problems.append(f"extension schema {uri} has no prefix")
            props = declared.setdefault(uri.strip(), set())
            for prop in item.iter(f"{{{rdf}}}li"):
                name = prop.findtext(f"{{{NS['pdfaProperty']}}}name")
                vtype = prop.findtext(f"{{{NS['pdfaProperty']}}}valueType")
                category = prop.findtext(f"{{{NS['pdfaProperty']}}}category")
                if name is None:
                    continue
                if not vtype or category not in ("internal", "external"):
                    problems.append(f"extension property {name} lacks valueType or a valid category")
                props.add(name.strip())
    for desc in root.iter(f"{{{rdf}}}Description"):
        for prop in desc:
            uri, _, local = prop.tag[1:].partition("}")
            if uri in PREDEFINED_XMP or uri in EXTENSION_NAMESPACES:
                continue
            if uri not in declared:
                problems.append(f"XMP namespace {uri} is used but not declared in pdfaExtension:schemas")
            elif local not in declared[uri]:
                problems.append(f"XMP property {local} of {uri} is not declared in its extension schema")
    return problems, set(declared)


def _signature_form_problems(pdf: pikepdf.Pdf) -> list[str]:
    """Structural PDF/A checks of signature fields (which pikepdf.pdfa does not check): only /Sig fields, printed,
    not hidden, each widget with a normal appearance, no NeedAppearances, no XFA."""
    problems = []
    acro = pdf.Root.get("/AcroForm")
    if not isinstance(acro, pikepdf.Dictionary):
        return problems
    for key in ("/NeedAppearances", "/XFA"):
        if key in acro and not (key == "/NeedAppearances" and acro[key] is False):
            problems.append(f"AcroForm has {key}")
    for fld in acro.get("/Fields", pikepdf.Array()):
        if fld.get("/FT") != "/Sig":
            problems.append(f"form field {fld.get('/T')} is {fld.get('/FT')}, not a signature")
            continue
        widgets = fld.get("/Kids", [fld]) if "/Kids" in fld else [fld]
        for w in widgets:
            flags = int(w.get("/F", 0))
            if not flags & 4 or flags & (1 | 2 | 32):
                problems.append(f"signature widget {fld.get('/T')} has flags {flags} (needs Print, not hidden)")
            ap = w.get("/AP")
            if not isinstance(ap, pikepdf.Dictionary) or not isinstance(ap.get("/N"), pikepdf.Stream):
                problems.append(f"signature widget {fld.get('/T')} has no normal appearance stream")
    return problems


def pdfa_check(path: Path, level: str = "2b") -> ValidationResult:
    """PDF/A-``level`` check with pikepdf.pdfa plus our own checks of what it cannot judge.

    pikepdf.pdfa rejects every XMP extension schema (documented limitation): its namespace findings are set aside
    only when our own parser confirms each custom property is declared. It reports signature forms as unsupported:
    those are set aside only when our own signature-field checks pass.
    """
    import pikepdf.pdfa as pdfa

    tool = f"pikepdf.pdfa PDF/A-{level}"
    report = pdfa.validate_written(path, level)
    try:
        with pikepdf.open(path) as pdf:
            meta = pdf.Root.get("/Metadata")
            xmp = meta.read_bytes() if isinstance(meta, pikepdf.Stream) else b""
            sig_problems = _signature_form_problems(pdf)
            has_form = "/AcroForm" in pdf.Root
    except pikepdf.PdfError as exc:
        return ValidationResult(False, [ValidationIssue("pikepdf:open", f"{path.name}: {exc}")], tool)
    ext_problems, declared = extension_schema_problems(xmp) if xmp else ([], set())
    declared_prefixes = {m.group(1) for uri in declared for m in re.finditer(
        rf'xmlns:([\w.-]+)="{re.escape(uri)}"', xmp.decode("utf-8", "replace"))}
    extension_words = ("pdfaExtension", "pdfaSchema", "pdfaProperty", *(f"{p}:" for p in declared_prefixes),
                       *(f"{p}=" for p in declared_prefixes), *declared)
    errors, ignored = [], []
    for f in report.findings:
        issue = ValidationIssue(f.rule, f"{f.where}: {f.message}" + (" [unsupported]" if f.kind != "violation" else ""))
        is_extension = (f.rule in PIKEPDF_XMP_NAMESPACE_RULES and not ext_problems
                        and any(w in f.message for w in extension_words))
        is_signature_form = (f.kind == "unsupported" and has_form and not sig_problems
                             and ("AcroForm" in f.where or "AcroForm" in f.message or "/Sig" in f.message
                                  or "Widget" in f.where or "signature" in f.message.lower()))
        (ignored if is_extension or is_signature_form else errors).append(issue)
    errors += [ValidationIssue("xmp-extension", p) for p in ext_problems]
    errors += [ValidationIssue("signature-form", p) for p in sig_problems]
    return ValidationResult(not errors, errors, tool, ignored)


def validate_pdfa(path: Path, level: str, timeout: float = 180.0) -> ValidationResult:
    """The PDF/A gate for a level: Preflight for 1b, the pikepdf-based checker for 2b."""
    if level == "1b":
        return preflight_pdfa1b(path, timeout=timeout)
    if level == "2b":
        return pdfa_check(path, "2b")
    return ValidationResult(False, [ValidationIssue("level", f"PDF/A level {level!r} is not supported")], "PDF/A")


if __name__ == "__main__":  # python -m pipeline.archival._validators structure FILE.pdf: structure_check_in_child
    if len(sys.argv) != 3 or sys.argv[1] != "structure":
        sys.exit(f"usage: python -m {__spec__.name} structure FILE.pdf")
    result = structure_check(Path(sys.argv[2]))
    errors = [[e.code, e.message] for e in result.errors]
    print(json.dumps({"valid": result.valid, "tool": result.tool, "errors": errors}))

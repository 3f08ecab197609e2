"""What a volume PDF holds, read once: page labels, outline, active content, the XMP, the signature."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pikepdf

from pipeline import __version__
from pipeline.archival._xmp import read_xmp

Property = Literal["authenticity", "completeness", "usability", "security"]
PROPERTIES: tuple[Property, ...] = ("authenticity", "completeness", "usability", "security")
TOOL = f"scan-to-dossier {__version__} checks"
FRONT_LABEL = re.compile(r"^(封面|目录-\d+)$")
BACK_LABEL = "备考表"
RENDER_DPI = 12  # enough to make MuPDF decode and draw every object on the page


_BAD_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "launch action", "/URI": "external link (URI action)",
                "/GoToR": "remote go-to action", "/GoToE": "embedded go-to action", "/ImportData": "import action",
                "/SubmitForm": "form submission"}


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
    except Exception as exc:  # noqa: BLE001 - MuPDF raises its own errors on damaged files
        facts.render_errors.append(f"MuPDF cannot open the file: {exc}")
        return facts
    with doc:
        for i in range(doc.page_count):
            try:
                page = doc[i]
                page.get_pixmap(dpi=RENDER_DPI, alpha=False)
                facts.invisible_chars.append(
                    sum(len(span["chars"]) for span in page.get_texttrace() if span.get("type") == 3))
            except Exception as exc:  # noqa: BLE001 - any failure to draw a page is the finding
                facts.render_errors.append(f"page {i + 1} does not render: {exc}")
                facts.invisible_chars.append(0)
    return facts

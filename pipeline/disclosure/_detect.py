"""What is removed from a page under a profile: every personal number, every detailed address, every name of a
person the profile hides — as a set of the page's characters and, for each, what (if anything) takes its place.

Names need the whole case file first: :func:`read_people` goes over every page and every 卷内目录 title once, then
:func:`detect_page` finds each page's findings with the people known.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.disclosure._addresses import find_addresses
from pipeline.disclosure._names import Pseudonym, find_names, pseudonyms, replace_names
from pipeline.disclosure._numbers import find_numbers
from pipeline.disclosure._people import Register, document_date, one_off
from pipeline.disclosure._text import Glyph, PageText, stream
from pipeline.models import DisclosureProfile


@dataclass(frozen=True)
class Finding:
    """Personal data on a page: the characters it covers (indices into the page's glyphs), what each becomes ('' is
    burnt out; 某 or 某2 replaces a given name's character), what was read (never published), and how sure."""

    kind: str
    volume: int
    page: int
    glyphs: tuple[int, ...]
    cells: tuple[str, ...]
    value: str
    certain: bool
    reason: str
    found_by: str = "text-layer"


@dataclass(frozen=True)
class People:
    """The case file's people under a profile: the 某 form of everyone hidden, and every name known (a hidden name
    inside a longer known name is left alone)."""

    forms: dict[str, Pseudonym]
    everyone: tuple[str, ...]
    doubtful: frozenset[str] = frozenset()  # names read only from prose, never closed by a field separator


def read_people(pages: Iterable[PageText], titles: Iterable[tuple[str, str]],
                profile: DisclosureProfile) -> People:
    """Everyone the pages and the 卷内目录 titles ``(where, title)`` name, and the 某 forms of those the profile
    hides."""
    register = Register()
    for where, title in titles:
        register.read_title(title, where)
    for page in pages:
        text = stream(page, "all").text
        register.read(text, f"第{page.volume}卷第{page.page}页", document_date(text))
    hidden = register.named(profile.pseudonymise, profile.minors)
    misread = {n for n in register.people if any(one_off(n, p.name) for p in hidden if p.certain)}
    return People(pseudonyms(hidden), tuple(n for n in register.people if n not in misread),
                  frozenset(p.name for p in hidden if not p.certain))


@dataclass(frozen=True)
class _Hit:
    kind: str
    glyphs: frozenset[int]
    value: str
    certain: bool
    reason: str


def _filled(glyphs: tuple[int, ...]) -> frozenset[int]:
    """A span's characters with the spaces between them (a number in groups is burnt as one bar, not its groups)."""
    return frozenset(range(min(glyphs), max(glyphs) + 1)) if glyphs else frozenset()


def _number_hits(page: PageText, kinds: set[str]) -> list[_Hit]:
    """Numbers read line by line, and again with line ends inside digit runs closed up: a number broken over two
    lines is one hit covering both parts (a part found alone on one line is merged into it)."""
    hits: list[_Hit] = []
    for join in ("none", "digits"):
        st = stream(page, join)
        for s in find_numbers(st.text):
            if s.kind not in kinds:
                continue
            glyphs = _filled(st.glyphs(s.start, s.end))
            merged = [h for h in hits if h.glyphs & glyphs]
            if merged and all(glyphs <= h.glyphs for h in merged):
                continue
            hits = [h for h in hits if h not in merged]
            reason = s.reason + ("（跨行）" if join == "digits" else "")
            hits.append(_Hit(s.kind, glyphs.union(*(h.glyphs for h in merged)), s.value,
                             s.certain or any(h.certain for h in merged), reason))
    return hits


def _hits(page: PageText, kinds: set[str]) -> list[_Hit]:
    hits = _number_hits(page, kinds)
    if "address" in kinds:
        whole = stream(page, "all")
        hits += [_Hit(s.kind, _filled(whole.glyphs(s.start, s.end)), s.value, s.certain, s.reason)
                 for s in find_addresses(whole.text)]
    return hits


def detect_page(page: PageText, profile: DisclosureProfile, people: People, found_by: str = "text-layer") \
        -> list[Finding]:
    """The findings of one page under ``profile``."""
    out: list[Finding] = []
    for hit in _hits(page, set(profile.remove)):
        if hit.glyphs:
            glyphs = tuple(sorted(hit.glyphs))
            out.append(Finding(hit.kind, page.volume, page.page, glyphs, ("",) * len(glyphs), hit.value,
                               hit.certain, hit.reason, found_by))
    if people.forms:
        whole = stream(page, "all")
        for hit in find_names(whole.text, people.forms, people.everyone):
            glyphs = whole.glyphs(hit.start, hit.end)
            if len(glyphs) != len(hit.name):
                continue  # a character that folded into several: left to the OCR re-read and the review
            keep = len(hit.name) - sum(1 for c in hit.pseudonym.cells if c)
            cells = hit.pseudonym.cells
            certain = hit.exact and hit.name not in people.doubtful
            reason = "姓名（" + ("卷内出现" if hit.exact else "近似，疑为误识") + "）"
            out.append(Finding("name", page.volume, page.page, glyphs[keep:], cells[keep:], hit.name, certain,
                               reason, found_by))
    return out


def redacted_text(text: str, people: People, profile: DisclosureProfile) -> str:
    """A line of generated text (卷内目录, cover, bookmarks) with names in their 某 form and numbers as ×."""
    text = replace_names(text, people.forms, people.everyone)
    page = PageText(0, 0, tuple(Glyph(c, 0, 0, 0, 0, 0) for c in text))
    hidden = {g for hit in _hits(page, set(profile.remove)) for g in hit.glyphs}
    return "".join("×" if i in hidden else c for i, c in enumerate(text))


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Findings by kind."""
    out: dict[str, int] = {}
    for f in findings:
        out[f.kind] = out.get(f.kind, 0) + 1
    return out

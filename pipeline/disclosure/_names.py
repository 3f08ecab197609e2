"""Names replaced by their 某 form wherever they occur, as 法释〔2016〕19号 art. 9 writes them: the surname kept, each
character of the given name replaced by 某 (张某, 张某某; 欧阳某); two people whose forms coincide are told apart
by an Arabic number after it (张某1, 张某2).

An occurrence inside a longer name of someone else the case names (张伟 inside 张伟民, the defendant) is left
alone. A name read one character off after a role word or a name field's label (被害人张建围, 户名：张建围 for
张建国: OCR) is replaced too, and is doubtful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.disclosure._people import Person, name_mentions


@dataclass(frozen=True)
class Pseudonym:
    """A person's 某 form, character by character: what each character of the name becomes ('' keeps it)."""

    name: str
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        """The form as text: 张某某, 张某2."""
        return "".join(c or ch for c, ch in zip(self.cells, self.name))


def pseudonyms(people: Sequence[Person]) -> dict[str, Pseudonym]:
    """Every person's 某 form, numbered where two forms coincide (in the order the people were first named)."""
    base: dict[str, list[Person]] = {}
    for p in people:
        form = p.surname + "某" * (len(p.name) - len(p.surname))
        base.setdefault(form, []).append(p)
    out: dict[str, Pseudonym] = {}
    for group in base.values():
        for k, p in enumerate(group, start=1):
            cells = [""] * len(p.surname) + ["某"] * (len(p.name) - len(p.surname))
            if len(group) > 1:
                cells[-1] = f"某{k}"
            out[p.name] = Pseudonym(p.name, tuple(cells))
    return out


@dataclass(frozen=True)
class NameHit:
    """An occurrence of a name in a stream: ``text[start:end]``, the person's form, whether it is an exact match."""

    start: int
    end: int
    name: str
    pseudonym: Pseudonym
    exact: bool


def _inside_longer(text: str, start: int, end: int, others: Sequence[str]) -> bool:
    for other in others:
        if len(other) <= end - start:
            continue
        lo = max(0, end - len(other))
        for s in range(lo, start + 1):
            if text[s : s + len(other)] == other and s <= start and s + len(other) >= end:
                return True
    return False


def find_names(text: str, forms: dict[str, Pseudonym], everyone: Sequence[str]) -> list[NameHit]:
    """Occurrences of the names in ``forms`` in a stream (``all``: lines closed up), longest names first, none
    inside a longer name of ``everyone``; then near misses after a role word or a name field's label."""
    hits: list[NameHit] = []
    taken: set[int] = set()
    for name in sorted(forms, key=len, reverse=True):
        at = text.find(name)
        while at >= 0:
            span = set(range(at, at + len(name)))
            if not span & taken and not _inside_longer(text, at, at + len(name), everyone):
                hits.append(NameHit(at, at + len(name), name, forms[name], True))
                taken |= span
            at = text.find(name, at + 1)
    known = set(everyone)
    for start, found in name_mentions(text):
        if start in taken:
            continue
        for read, _ in found:
            near = _near_miss(read, forms, known)
            if near is not None and not set(range(start, start + len(read))) & taken:
                hits.append(NameHit(start, start + len(read), read, Pseudonym(read, forms[near].cells), False))
                taken |= set(range(start, start + len(read)))
                break
    return sorted(hits, key=lambda h: h.start)


def _near_miss(read: str, forms: dict[str, Pseudonym], known: set[str]) -> str | None:
    """The one name of ``forms`` that ``read`` is a misreading of: same length and surname, one given character
    off, and ``read`` not itself somebody's name."""
    if read in known or len(read) < 3:
        return None
    close = [n for n in forms if len(n) == len(read) and n[0] == read[0]
             and sum(a != b for a, b in zip(n, read)) == 1]
    return close[0] if len(close) == 1 else None


def replace_names(text: str, forms: dict[str, Pseudonym], everyone: Sequence[str]) -> str:
    """``text`` with every name of ``forms`` written in its 某 form (for the 卷内目录, the cover, the bookmarks)."""
    hits = find_names(text, forms, everyone)
    out, at = [], 0
    for h in hits:
        out.append(text[at : h.start])
        out.append(h.pseudonym.text)
        at = h.end
    out.append(text[at:])
    return "".join(out)


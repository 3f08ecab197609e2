"""What one search may look at: the caller's scope (from the access rules, decided above this layer) and the filters
the caller chose."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.search._entries import ORIGINAL

DISCLOSURE = "disclosure"  # the copy kind of every disclosure copy ("disclosure/<profile>")


def copy_kind(copy: str) -> str:
    """``original`` or ``disclosure`` for an entry's copy."""
    return DISCLOSURE if copy.startswith(DISCLOSURE) else ORIGINAL


@dataclass(frozen=True)
class CaseGrant:
    """One case another agency may read now: which volumes (None: all) of which copy kind."""

    case_key: str
    volumes: frozenset[int] | None = None
    copy: str = ORIGINAL  # DISCLOSURE: only the disclosure copies of the case are searched


@dataclass(frozen=True)
class Scope:
    """The dossiers a search may find: an agency's own (by the owner the index recorded), the cases released to it,
    or everything (administrators at the command line)."""

    owner: str | None = None
    grants: tuple[CaseGrant, ...] = ()
    everything: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing can be found."""
        return not self.everything and not self.owner and not self.grants


@dataclass(frozen=True)
class Filters:
    """The caller's narrowing: one case, a kind of document (a title, matching titles that start with it: 询问笔录
    finds 询问笔录（张某某）), a date range."""

    case_key: str | None = None
    title: str | None = None
    date_from: int = 0  # YYYYMMDD, inclusive; 0: open
    date_to: int = 0

    def admits_date(self, number: int) -> bool:
        """True when a date (YYYYMMDD, 0: unknown) passes the range; an unknown date passes only an open range."""
        if not self.date_from and not self.date_to:
            return True
        return bool(number) and (not self.date_from or number >= self.date_from) and \
            (not self.date_to or number <= self.date_to)

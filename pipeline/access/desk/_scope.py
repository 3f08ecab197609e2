"""Who may see and do what at the operators' desk: the one place these decisions are made.

A scanning-room operator (扫描员, role ``operator``) sees the batches, cases and reviews of the rooms an administrator
gave them (``dossier user add --room``, ``dossier user rooms``) and acts on them: requeues a quarantined batch, reruns
a volume, takes over, releases and answers a review. An administrator of the desk (管理员, role ``ops-admin``) sees
every room and may also reprocess a published case with another standard profile. Nobody else sees anything of the
desk. Whatever a person may not see is answered exactly like what does not exist (403, the same words).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.access._auth import Principal

OPERATOR = "operator"
OPS_ADMIN = "ops-admin"


def at_desk(who: Principal) -> bool:
    """Whether the person has a place at the desk at all."""
    return who.has(OPERATOR) or who.has(OPS_ADMIN)


def every_room(who: Principal) -> bool:
    """Whether the person sees every room (an administrator of the desk)."""
    return who.has(OPS_ADMIN)


def may_see(who: Principal, room: str | None) -> bool:
    """Whether the person may see (and act on) a room's batches, cases and reviews."""
    if every_room(who):
        return True
    return bool(room) and who.has(OPERATOR) and room in who.rooms


def rooms_seen(who: Principal, rooms: Iterable[str]) -> list[str]:
    """The rooms of ``rooms`` the person may see, sorted; an operator's own rooms are always among them."""
    known = set(rooms) | (set(who.rooms) if who.has(OPERATOR) else set())
    return sorted(r for r in known if may_see(who, r))


def may_rerun(who: Principal, run_status: str) -> bool:
    """Whether the person may rebuild a volume of a run in that state: an operator a run that failed, a desk
    administrator any (a published case is republished)."""
    return every_room(who) or run_status == "failed"


def may_reprocess(who: Principal) -> bool:
    """Whether the person may rebuild a published case under another standard profile (republishing it)."""
    return every_room(who)

"""Who may see a request and take which step: pure functions of the principal, the request's row and who has
already acted on it (no database access here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.access._auth import Principal
from pipeline.access.requests._model import ACTIONS, ROLE_LABELS, RULES, STATE_LABELS, Rule, TransitionRefused
from pipeline.errors import BadInputError, NotFoundError, RefusedError


@dataclass(frozen=True)
class Change:
    """A step about to be taken: the state it leads to, the columns it sets, whether it grants access."""

    step: str
    from_state: str | None
    to_state: str
    role: str
    at: datetime
    comment: str = ""
    values: dict = field(default_factory=dict)
    grant: bool = False


def visible(who: Principal, row) -> bool:
    """The requesting agency sees its requests; the holding agency sees them once approved (before that they are
    the requesting agency's internal matter). Anyone else sees nothing, not even that a request exists."""
    if who.agency == row.requesting_agency:
        return True
    return who.agency == row.holding_agency and row.approved_at is not None


def check_rule(who: Principal, row, actors: set[str], action: str) -> Rule:
    """The rule allowing the principal to take ``action`` on the request now, or the reason it may not."""
    if action not in ACTIONS:
        raise BadInputError(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}")
    if not visible(who, row):
        raise NotFoundError(f"no request {row.id} visible to {who.agency}")
    rule = RULES.get((action, row.state))
    if rule is None:
        raise TransitionRefused(f"request {row.id} is {row.state} ({STATE_LABELS.get(row.state, row.state)}): "
                                f"it cannot take '{action}' now")
    agency = row.requesting_agency if rule.side == "requesting" else row.holding_agency
    if who.agency != agency:
        raise RefusedError(f"'{action}' on request {row.id} is for the {rule.role} of {agency}")
    if not who.has(rule.role):
        raise RefusedError(f"'{action}' on request {row.id} needs the role {rule.role} "
                           f"({ROLE_LABELS[rule.role]}) at {agency}")
    if who.id == row.filed_by:
        raise RefusedError(f"nobody takes a step on their own request (request {row.id})")
    if who.id in actors:
        raise RefusedError(f"{who.label} already took a step on request {row.id}: another person takes this one")
    if rule.role == "reviewer" and who.department and who.department != row.department:
        raise RefusedError(f"request {row.id} is from {row.department}; {who.label} reviews for {who.department}")
    return rule


def decide_action(who: Principal, row, actors: set[str], action: str, comment: str, held: bool,
                  now: datetime, copy: str = "original") -> Change:
    """The change a person's action makes, after checking that they may take it. ``held``: the case (and, for a
    disclosure copy, that copy) is published and the access database records the holding agency as its owner (see
    :func:`release_change`); ``copy``: what a release gives (the original or a disclosure profile)."""
    rule = check_rule(who, row, actors, action)
    comment = (comment or "").strip()[:2000]
    if action == "refuse":
        if not comment:
            raise BadInputError("a refusal needs a reason (comment)")
        values = {"closed_at": now, **({"decided_at": now} if rule.side == "holding" else {})}
        return Change("refused", row.state, "refused", rule.role, now, comment, values)
    if action == "review":
        return Change("reviewed", row.state, "reviewed", rule.role, now, comment, {"reviewed_at": now})
    if action == "approve":
        return Change("approved", row.state, "approved", rule.role, now, comment, {"approved_at": now})
    if not held:
        return Change("waiting", row.state, "waiting", rule.role, now, comment, {"decided_at": now, "copy": copy})
    return release_change(row, rule.role, now, comment, {"decided_at": now, "copy": copy})


def release_change(row, role: str, now: datetime, comment: str, values: dict | None = None) -> Change:
    """The release of a request: access for the requesting agency until the end of its period.

    A release is granted only for a case the holding agency owns — as the access database recorded at its first
    publication, never as a manifest says — and that is published. Any other case (not yet published, published
    by another agency, or published with no owner at all) gets the same answer: the decision is recorded and the
    request waits; it is released if and when the holding agency publishes the case. A registrar therefore learns
    nothing about another agency's cases, and an owner-less dossier is released to nobody."""
    return Change("released", row.state, "released", role, now, comment,
                  {**(values or {}), "released_at": now, "expires_at": now + timedelta(days=row.days)}, grant=True)


def inbox_actions(who: Principal, row, actors: set[str]) -> tuple[str, ...]:
    """The actions the principal may take on the request now (empty: not in their inbox)."""
    allowed = []
    for action in ACTIONS:
        try:
            check_rule(who, row, actors, action)
        except (BadInputError, NotFoundError, RefusedError):
            continue
        allowed.append(action)
    return tuple(allowed)

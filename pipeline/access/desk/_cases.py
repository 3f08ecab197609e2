"""A case's history on the desk: its batches, their tries, its runs (linked to the workflow engine's UI), its reviews
and publications — computed by the library as ``dossier status 案号`` computes it
(:func:`pipeline.operations.case_history`), showing only what happened in the rooms the person sees."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.access._auth import Principal
from pipeline.access.desk._context import DeskContext, Hidden, RunSeen
from pipeline.access.desk._scope import may_see
from pipeline.dossier import case_reviews
from pipeline.errors import CaseNumberError
from pipeline.models import CaseHistory
from pipeline.operations import case_history
from pipeline.storage import normalise_case_no, same_case


@dataclass(frozen=True)
class CaseView:
    """A case as the person may see it: its history, its runs with their links."""

    case_no: str
    history: CaseHistory
    runs: list[RunSeen]
    links: dict[str, str]


class CasesDesk:
    """The cases of the rooms a person sees."""

    def __init__(self, context: DeskContext):
        self.ctx = context

    def case(self, who: Principal, case_no: str) -> CaseView:
        """The history of a case with a batch or run in a room the person sees (Hidden otherwise: a case of another
        room reads like a case that does not exist)."""
        try:
            canonical = normalise_case_no(case_no)
        except CaseNumberError:
            raise Hidden(f"{case_no[:64]!r} is not a case number") from None
        runs = self.ctx.runs(who, canonical)
        history = case_history(self.ctx.layout.root, canonical, same_case(canonical), [r.record for r in runs],
                               case_reviews([r.folder for r in runs]), zone=self.ctx.sources.zone)
        batches = [b for b in history.batches if may_see(who, b.room)]
        events = [e for e in history.events if e.kind != "try" or may_see(who, e.batch.partition("/")[0])]
        if not runs and not batches:
            raise Hidden(f"case {canonical}: nothing in a room the person may see")
        orchestrator = self.ctx.orchestrator
        links = {r.run_id: link for r in runs if r.run_id and orchestrator is not None
                 and (link := orchestrator.run_link(r.run_id))}
        shown = history.model_copy(update={"batches": batches, "events": events})
        return CaseView(canonical, shown, runs, links)

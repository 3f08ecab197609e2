"""The desk as the service holds it: its shared context and its parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from pipeline.access._audit import AuditLog
from pipeline.access._auth import Clock
from pipeline.access.db import Database
from pipeline.access.desk._batch_images import BatchImages
from pipeline.access.desk._cases import CasesDesk
from pipeline.access.desk._context import DeskContext, DeskSources
from pipeline.access.desk._reviews import ReviewStation
from pipeline.access.desk._rooms import RoomsDesk
from pipeline.common import utcnow


@dataclass
class Desk:
    """The operators' desk: the rooms and their batches, the cases, the review station, the batches' pictures."""

    context: DeskContext
    rooms: RoomsDesk
    cases: CasesDesk
    reviews: ReviewStation
    images: BatchImages

    @property
    def zone(self) -> tzinfo | None:
        """The zone the desk shows times in (DOSSIER_TIMEZONE as the service was given it; None: Beijing time)."""
        return self.context.sources.zone

    @classmethod
    def open(cls, sources: DeskSources, db: Database, audit: AuditLog, clock: Clock = utcnow) -> Desk:
        """The desk over a state folder, the access database and the service's audit log."""
        context = DeskContext(sources, db, audit, clock)
        return cls(context, RoomsDesk(context), CasesDesk(context), ReviewStation(context), BatchImages(context))

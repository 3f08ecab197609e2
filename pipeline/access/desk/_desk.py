"""The desk as the service holds it: its shared context and its parts."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.access._audit import AuditLog
from pipeline.access._auth import Clock
from pipeline.access.db import Database
from pipeline.access.desk._batch_images import BatchImages
from pipeline.access.desk._context import DeskContext, DeskSources
from pipeline.access.desk._reviews import ReviewStation
from pipeline.common import utcnow


@dataclass
class Desk:
    """The operators' desk: the review station (and the rooms, their batches and cases)."""

    context: DeskContext
    reviews: ReviewStation
    images: BatchImages

    @classmethod
    def open(cls, sources: DeskSources, db: Database, audit: AuditLog, clock: Clock = utcnow) -> Desk:
        """The desk over a state folder, the access database and the service's audit log."""
        context = DeskContext(sources, db, audit, clock)
        return cls(context, ReviewStation(context), BatchImages(context))

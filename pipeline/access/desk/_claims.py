"""Who holds a 卷内目录 review, and which pause of a run was answered: two reviewers never resume the same pause.

A reviewer who opens a volume waiting for review holds it (unless someone else does); another reviewer sees who holds
it and since when, and may take it over (a person away from their desk); the holder may release it. An answer is
recorded (run, pause key) before the run is resumed: the database lets only the first answer of a pause through, so
two reviewers pressing 提交 at once resume the run once, and the second is told who answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.access._auth import Clock, Principal
from pipeline.access.db import Database, tables
from pipeline.common import utcnow
from pipeline.errors import RefusedError


@dataclass(frozen=True)
class Claim:
    """A review held by a person since a time."""

    run_id: str
    user_id: int
    name: str
    since: datetime


class ReviewClaims:
    """Claims on reviews and the answers given, in the access database."""

    def __init__(self, db: Database, clock: Clock = utcnow):
        self.db, self.clock = db, clock

    def _holder(self, conn, run_id: str) -> Claim | None:
        c, u = tables.review_claims, tables.users
        row = conn.execute(select(c.c.user_id, c.c.since, u.c.display_name, u.c.username).select_from(
            c.join(u, u.c.id == c.c.user_id)).where(c.c.run_id == run_id)).first()
        return Claim(run_id, row.user_id, row.display_name or row.username, row.since) if row else None

    def holder(self, run_id: str) -> Claim | None:
        """Who holds the run's review, if anyone."""
        with self.db.read() as conn:
            return self._holder(conn, run_id)

    def take(self, run_id: str, who: Principal, over: bool = False) -> Claim:
        """Hold the run's review; a review someone else holds only when taking it ``over`` (else RefusedError)."""
        if who.user_id is None:
            raise RefusedError("only a signed-in person holds a review")
        c = tables.review_claims
        with self.db.write() as conn:
            held = self._holder(conn, run_id)
            if held is None:
                conn.execute(c.insert().values(run_id=run_id, user_id=who.user_id, since=self.clock()))
            elif held.user_id != who.user_id:
                if not over:
                    raise RefusedError(f"{held.name} 正在审核（自 {held.since:%Y-%m-%d %H:%M} UTC）")
                conn.execute(update(c).where(c.c.run_id == run_id).values(user_id=who.user_id, since=self.clock()))
            return self._holder(conn, run_id)

    def release(self, run_id: str, who: Principal) -> None:
        """Let go of a review one holds (a review held by someone else stays theirs)."""
        c = tables.review_claims
        with self.db.write() as conn:
            conn.execute(delete(c).where(c.c.run_id == run_id, c.c.user_id == who.user_id))

    def answer(self, run_id: str, pause_key: str, who: Principal) -> bool:
        """Record the answer to one pause; False when it was answered already (by anyone)."""
        try:
            with self.db.write() as conn:
                conn.execute(tables.review_answers.insert().values(run_id=run_id, pause_key=pause_key,
                                                                   user_id=who.user_id, at=self.clock()))
        except IntegrityError:
            return False
        return True

    def answered_by(self, run_id: str, pause_key: str) -> str | None:
        """Who answered a pause, if anyone did."""
        a, u = tables.review_answers, tables.users
        with self.db.read() as conn:
            row = conn.execute(select(u.c.display_name, u.c.username).select_from(a.join(u, u.c.id == a.c.user_id))
                               .where(a.c.run_id == run_id, a.c.pause_key == pause_key)).first()
        return (row.display_name or row.username) if row else None

    def withdraw(self, run_id: str, pause_key: str) -> None:
        """Forget an answer that could not be delivered (the engine did not answer): it may be given again."""
        a = tables.review_answers
        with self.db.write() as conn:
            conn.execute(delete(a).where(a.c.run_id == run_id, a.c.pause_key == pause_key))

    def done(self, run_id: str) -> None:
        """The run no longer waits: nobody holds its review."""
        with self.db.write() as conn:
            conn.execute(delete(tables.review_claims).where(tables.review_claims.c.run_id == run_id))

"""The review station's side of the desk: a volume waiting for its 卷内目录 review, the crop of each field in doubt,
and the answer, checked with the same library calls the run applies it with (:func:`pipeline.structure.apply_review`)
before the run is resumed — once, by the person who holds the review.

Every answer, take-over and release is written to the audit log (who, which run, which volume, what changed) before
it takes effect; an answer the engine could not receive is recorded as withdrawn and may be given again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.access._auth import Principal
from pipeline.access.desk._claims import Claim
from pipeline.access.desk._context import DeskContext, RunSeen
from pipeline.access.desk._images import crop_png, file_key, page_png
from pipeline.access.desk._orchestrator import NotWaiting, OrchestratorUnavailable, Pause
from pipeline.common import utcnow_seconds
from pipeline.dossier import ReviewSheet, load_review_sheet, page_file
from pipeline.errors import BadInputError, NotFoundError, RefusedError
from pipeline.models import VolumeCatalogue
from pipeline.structure import FIELDS, LABELS, ReviewedRow, apply_review, reviewed_date

DATE_HELP = "请写成 2022-01-04（年月日）、2022-01（只有年月）或 二〇二二年一月四日，不能晚于今天；不知道就留空。"


class ReviewProblems(BadInputError):
    """Fields of an answer that cannot be used, by ``<seq>.<field>``, in Chinese (the detail after it)."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class ReviewPage:
    """What the station shows: the run, where it waits, the volume's sheet, who holds the review."""

    run: RunSeen
    pause: Pause
    sheet: ReviewSheet
    claim: Claim | None
    run_link: str | None


def answer_rows(sheet: ReviewSheet, values: dict[str, str]) -> tuple[list[ReviewedRow], dict[str, str]]:
    """The rows as the reviewer leaves them (a field not given keeps what was read) and the problems found, each
    date checked as the run checks it."""
    rows, problems = [], {}
    for e in sheet.entries:
        typed = {name: " ".join(values.get(f"{e.seq}.{name}", getattr(e, name)).split()) for name in FIELDS}
        try:
            typed["date"] = reviewed_date(typed["date"])
        except BadInputError:
            problems[f"{e.seq}.date"] = _date_problem(typed["date"])
        rows.append(ReviewedRow(e.seq, typed["title"], typed["doc_no"], typed["author"], typed["date"]))
    return rows, problems


def _date_problem(typed: str) -> str:
    """Why a typed date was refused, in the reviewer's words: not on the calendar, or later than today."""
    try:
        reviewed_date(typed, now=_SOME_FAR_DAY)
    except BadInputError:
        return f"「{typed}」不是有效日期。{DATE_HELP}"
    return f"「{typed}」晚于今天：文件的日期不能晚于审核的这一天。"


_SOME_FAR_DAY = datetime(9000, 1, 1, tzinfo=UTC)


class ReviewStation:
    """Volumes waiting for review, their crops, and the answers."""

    def __init__(self, context: DeskContext):
        self.ctx = context

    def _pause(self, run: RunSeen) -> Pause:
        orchestrator = self.ctx.orchestrator
        if orchestrator is None:
            raise OrchestratorUnavailable("no workflow engine is configured for the desk (PREFECT_API_URL)")
        pause = orchestrator.pause_of(run.run_id)
        if pause is None or pause.volume is None:
            raise NotWaiting(f"run {run.run_id} of case {run.case_no} does not wait for a review")
        return pause

    def _sheet(self, run: RunSeen, volume: int) -> ReviewSheet:
        sheet = load_review_sheet(run.folder, volume)
        if sheet is None:
            raise NotWaiting(f"run {run.run_id} of case {run.case_no}: no review sheet of volume {volume}")
        return sheet

    def page(self, who: Principal, run_id: str) -> ReviewPage:
        """The volume the run waits on, held by the person unless someone else holds it."""
        run = self.ctx.run(who, run_id)
        pause = self._pause(run)
        sheet = self._sheet(run, pause.volume)
        claims = self.ctx.claims
        claim = claims.holder(run_id) or claims.take(run_id, who)
        link = self.ctx.orchestrator.run_link(run_id) if self.ctx.orchestrator else None
        return ReviewPage(run, pause, sheet, claim, link)

    def take_over(self, who: Principal, run_id: str) -> Claim:
        """Hold a review someone else holds (audited first)."""
        run = self.ctx.run(who, run_id)
        before = self.ctx.claims.holder(run_id)
        with self.ctx.acting(who, "review.take-over", run, detail=f"from {before.name if before else '-'}"):
            return self.ctx.claims.take(run_id, who, over=True)

    def release(self, who: Principal, run_id: str) -> None:
        """Let go of a review one holds (audited first)."""
        run = self.ctx.run(who, run_id)
        with self.ctx.acting(who, "review.release", run):
            self.ctx.claims.release(run_id, who)

    def answer(self, who: Principal, run_id: str, pause_key: str, values: dict[str, str]) -> int:
        """Check the reviewer's values as the run will and resume the run with them; returns the volume answered.
        ReviewProblems names the fields that cannot be used; RefusedError when someone else holds or answered it."""
        run = self.ctx.run(who, run_id)
        pause = self._pause(run)
        if pause.key != pause_key:
            raise NotWaiting(f"run {run_id} now waits at {pause.key}, not at {pause_key}: the page was out of date")
        sheet = self._sheet(run, pause.volume)
        rows, problems = answer_rows(sheet, values)
        if problems:
            raise ReviewProblems(problems)
        catalogue = VolumeCatalogue(volume=sheet.volume, entries=sheet.entries)
        try:
            _, records = apply_review(catalogue, rows, who.label, utcnow_seconds(), run_id)
        except BadInputError as exc:
            raise ReviewProblems({"": f"这份审核无法采用：{exc}"}) from None
        claims = self.ctx.claims
        held = claims.holder(run_id)
        if held is not None and held.user_id != who.user_id:
            raise RefusedError(f"{held.name} 正在审核这一卷：请先「接手审核」")
        if not claims.answer(run_id, pause_key, who):
            raise RefusedError(f"这一卷已由 {claims.answered_by(run_id, pause_key) or '他人'} 提交审核，运行已继续")
        corrected = [f"{r.seq}.{LABELS[r.field]}: {r.before!r} -> {r.after!r}" for r in records
                     if r.action == "corrected"]
        try:
            with self.ctx.acting(who, "review.answer", run, volume=sheet.volume, pause=pause_key,
                                 detail="; ".join(corrected)[:1500] or "all fields confirmed as read"):
                self.ctx.orchestrator.resume(run_id, {
                    "reviewer": who.label, "case_no": sheet.case_no, "volume": sheet.volume,
                    "entries": [{"seq": r.seq, "title": r.title, "doc_no": r.doc_no, "author": r.author,
                                 "date": r.date} for r in rows]})
        except NotWaiting:
            raise
        except Exception:
            claims.withdraw(run_id, pause_key)  # nothing reached the run: it may be answered again
            raise
        claims.done(run_id)
        return sheet.volume

    def _image(self, run: RunSeen, sheet: ReviewSheet, position: int) -> Path:
        page = sheet.pages.get(position)
        path = page_file(self.ctx.page_cache, page.key, page.grey or page.image) if page else None
        if path is None:
            raise NotFoundError(f"case {run.case_no} volume {sheet.volume}: no image of page {position + 1}")
        return path

    def crop(self, who: Principal, run_id: str, volume: int, seq: int, field: str) -> bytes:
        """The PNG of the region where a field in doubt is printed."""
        run = self.ctx.run(who, run_id)
        sheet = self._sheet(run, volume)
        region = sheet.regions.get(seq, {}).get(field)
        if region is None:
            raise NotFoundError(f"case {run.case_no} volume {volume} row {seq}: no region of {field}")
        path = self._image(run, sheet, region.position)
        return self.ctx.rendered.get(file_key(path, "crop", region.box), lambda: crop_png(path, region.box))

    def whole_page(self, who: Principal, run_id: str, volume: int, position: int) -> bytes:
        """The PNG of a whole page a field in doubt is on."""
        run = self.ctx.run(who, run_id)
        sheet = self._sheet(run, volume)
        path = self._image(run, sheet, position)
        return self.ctx.rendered.get(file_key(path, "page"), lambda: page_png(path))

"""The 卷内目录 review: a run with fields in doubt pauses before its volumes are built and waits for a person.

One pause per volume to review (Prefect 3 ``pause_flow_run(wait_for_input=...)``): the Prefect UI shows the volume's
卷内目录 as a form (the run's "Resume" button), prefilled with what was read and saying what is in doubt; from a
terminal, ``dossier catalogue review 案号`` finds the paused run, shows the same and resumes it with the operator's
values. The run then builds its volumes from the reviewed catalogue (every page from the page cache, nothing is read
again). Who reviewed what, when, before and after goes into dossier.json (``corrections``), the work folder (so a rerun
does not ask again) and, for a run that publishes, the audit log.

A run nobody reviews stays paused (``dossier status`` says ``review``; the UI shows it Paused) until
DOSSIER_REVIEW_TIMEOUT, when it fails: it is never published half-checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect.input import RunInput
from pydantic import BaseModel, Field

from pipeline.common import utcnow_seconds
from pipeline.messages import N_, say
from pipeline.models import CatalogueCorrection, VolumeCatalogue
from pipeline.structure import LABELS, ReviewedRow, apply_review, doubt_words, entry_in_doubt

DATE_PATTERN = r"^(\d{4}(-\d{2}(-\d{2})?)?)?$"


class ReviewedEntry(BaseModel):
    """One row of the 卷内目录 in the review form."""

    seq: int = Field(description="顺序号 (do not change)")
    title: str = Field(default="", description="题名")
    doc_no: str = Field(default="", description="文号")
    author: str = Field(default="", description="责任者")
    date: str = Field(default="", pattern=DATE_PATTERN, description="日期: YYYY-MM-DD, or YYYY-MM, or empty")
    doubt: str = Field(default="", description="what is in doubt (for information; changes are ignored)")


class CatalogueReview(RunInput):
    """A reviewed 卷内目录 of one volume: the reviewer and every row as they leave it."""

    reviewer: str = Field(min_length=1, description="your name: recorded with every field you confirm or correct")
    case_no: str = Field(default="", description="案号 (do not change)")
    volume: int = Field(default=0, description="volume number (do not change)")
    entries: list[ReviewedEntry] = Field(default_factory=list, description="the rows of the 卷内目录")


def doubt_text(entry) -> str:
    """What is in doubt in a row, in the reviewer's language: 日期 缺失；责任者 已更正（识别为 新兴广…）."""
    parts = []
    for name, label in LABELS.items():
        ev = getattr(entry.evidence, name)
        if ev.flags:
            flags = doubt_words(ev.flags)
            read = say(N_(" (read {read})"), read=ev.read) if ev.read else ""
            parts.append(f"{label} {flags}{read}")
    parts += [f for f in entry.flags if not f.startswith(tuple(LABELS))]
    return say(N_("; ")).join(parts)


def description(case_no: str, catalogue: VolumeCatalogue, of: int) -> str:
    """The markdown the UI shows over the form: the volume's 卷内目录 with what is in doubt."""
    lines = [f"### 卷内目录 of case {case_no}, volume {catalogue.volume} of {of}",
             "Confirm or correct each row, enter your name, and resume. Fields in doubt are marked **⚠**.", "",
             "| 顺序号 | 文号 | 责任者 | 题名 | 日期 | 页号 | in doubt |", "|---|---|---|---|---|---|---|"]
    for e in catalogue.entries:
        cells = []
        for name in ("doc_no", "author", "title", "date"):
            value = getattr(e, name) or "—"
            cells.append(f"**⚠ {value}**" if getattr(e.evidence, name).flags else value)
        lines.append(f"| {e.seq} | {' | '.join(cells)} | {e.first_page}-{e.last_page} | {doubt_text(e) or ''} |")
    return "\n".join(lines)


def review_form(case_no: str, catalogue: VolumeCatalogue, of: int) -> type[CatalogueReview]:
    """The form of one volume: the rows prefilled with what was read."""
    rows = [ReviewedEntry(seq=e.seq, title=e.title, doc_no=e.doc_no, author=e.author, date=e.date,
                          doubt=doubt_text(e)) for e in catalogue.entries]
    return CatalogueReview.with_initial_data(description=description(case_no, catalogue, of), case_no=case_no,
                                             volume=catalogue.volume, entries=rows)


def wait_for_review(case_no: str, catalogue: VolumeCatalogue, of: int, timeout: int, run_id: str | None,
                    log) -> tuple[VolumeCatalogue, list[CatalogueCorrection]]:
    """Pause the run until a person reviews one volume's 卷内目录; returns it reviewed and the record of the review.
    An answer that cannot be applied (a row that does not exist, a date that is no date) pauses again, saying why."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    from pipeline.errors import ReviewTimedOut

    problem = ""
    attempt = 0
    while True:
        attempt += 1
        form = review_form(case_no, catalogue, of)
        if problem:
            form._description = f"**The last answer could not be used: {problem}**\n\n" + form._description
        doubtful = sum(1 for e in catalogue.entries if entry_in_doubt(e))
        log.warning("case %s volume %d of %d: %d row(s) of the 卷内目录 in doubt; waiting for a review (Prefect UI: "
                    "Resume, or: dossier catalogue review '%s')", case_no, catalogue.volume, of, doubtful, case_no)
        try:
            answer = pause_flow_run(wait_for_input=form, timeout=timeout,
                                    key=f"review-volume-{catalogue.volume}-{attempt}")
        except FlowPauseTimeout:
            raise ReviewTimedOut(f"case {case_no} volume {catalogue.volume}: nobody reviewed its 卷内目录 within "
                                 f"{timeout} s (DOSSIER_REVIEW_TIMEOUT); not published") from None
        rows = [ReviewedRow(e.seq, e.title, e.doc_no, e.author, e.date) for e in answer.entries]
        try:
            return apply_review(catalogue, rows, answer.reviewer, utcnow_seconds(), run_id)
        except Exception as exc:  # noqa: BLE001 - a bad answer is shown to the reviewer, and the run waits again
            problem = str(exc)
            log.warning("review of volume %d not applied: %s", catalogue.volume, problem)


def audit_review(store_config, database_url: str, case_no: str, corrections: Sequence[CatalogueCorrection]) -> None:
    """Record a volume's review in the audit log (one entry per field corrected, one for the rows confirmed)."""
    from flows.publication import run_audit_log
    from pipeline.storage import normalise_case_no

    if not corrections:
        return
    log = run_audit_log(store_config, database_url, "review")
    case = normalise_case_no(case_no)
    try:
        for c in corrections:
            if c.action != "corrected":
                continue
            log.record(actor=c.by, agency="-", status=0, bytes=0, action="catalogue.correct", case_no=case,
                       target=f"volume {c.volume} row {c.seq} {c.field}", detail=f"{c.before!r} -> {c.after!r}",
                       run=c.run)
        confirmed = [c for c in corrections if c.action == "confirmed"]
        if confirmed:
            log.record(actor=confirmed[0].by, agency="-", status=0, bytes=0, action="catalogue.confirm",
                       case_no=case, target=f"volume {confirmed[0].volume}", run=confirmed[0].run,
                       detail=f"{len(confirmed)} field(s) confirmed as read")
    finally:
        log.close()

"""`dossier catalogue review 案号`: confirm or correct the 卷内目录 of a run paused for review, and resume it.

The paused run is found on the Prefect server by its case (the run tags itself ``dossier-case:<case-key>``); the
rows, what was read and what is in doubt come from the form the run left there, so the command needs no access to the
run's files. Without PREFECT_API_URL it talks to the server the run recorded in the state folder (the temporary
server of a ``dossier process`` waiting in another terminal).

    dossier catalogue review '（2024）豫0727刑初172号'                      # show, ask for each field in doubt
    dossier catalogue review CASE --set 2.日期=2022-01-04 --accept         # scripts: correct, confirm the rest
    dossier catalogue review CASE --set 2:1.责任者=沈阳市沈河区人民法院 --accept  # volume 2, row 1
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli._common import StateOption, app, console, err, layout, operator, reported, stop
from pipeline.errors import BadInputError, ExitCode
from pipeline.messages import N_, say

catalogue_app = typer.Typer(help="The 卷内目录 of a case: review a run paused before its volumes are built.",
                            no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")

FIELD_ORDER = ("doc_no", "author", "title", "date")


@dataclass
class PausedReview:
    """A run waiting for the review of one volume: the run, the volume and the rows as the run read them."""

    run_id: object
    pause_key: str
    volume: int
    entries: list[dict]


def connect(home, case_no: str) -> None:
    """Point Prefect at the server of the case's paused run when none is configured (before Prefect loads)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    from pipeline.dossier import find_runs

    for _, record in find_runs(home.root, case_no):
        if record.status == "review" and record.api_url:
            os.environ["PREFECT_API_URL"] = record.api_url
            return
    from flows.cli.process import prefect_environment

    prefect_environment(home)


def find_paused(case_no: str) -> PausedReview | None:
    """The case's run waiting for a review, newest first; None when no run of the case waits."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.runlabels import CASE_TAG
    from pipeline.storage import case_key

    flt = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                        tags=FlowRunFilterTags(all_=[CASE_TAG + case_key(case_no)]))
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=flt, sort=FlowRunSort.START_TIME_DESC, limit=5):
            keyset = run.state.state_details.run_input_keyset if run.state else None
            if not keyset:
                continue
            schema = json.loads(client.read_flow_run_input(run.id, keyset["schema"]))
            props = schema.get("properties", {})
            entries = props.get("entries", {}).get("default", [])
            volume = props.get("volume", {}).get("default", 0)
            return PausedReview(run.id, run.state.state_details.pause_key or "", volume, entries)
    return None


def show(case_no: str, paused: PausedReview) -> None:
    """The volume's 卷内目录 as the run read it, what is in doubt marked."""
    table = Table(title=say(N_("卷内目录 of {case_no}, volume {volume} (run {run} waits)"), case_no=case_no,
                            volume=paused.volume, run=str(paused.run_id)[:8]))
    for col in ("顺序号", "文号", "责任者", "题名", "日期", say(N_("in doubt"))):
        table.add_column(col, overflow="fold")
    for e in paused.entries:
        table.add_row(str(e["seq"]), *[e.get(name) or "—" for name in FIELD_ORDER], e.get("doubt", ""))
    console.print(table)


def parse_set(item: str, volume: int) -> tuple[int, int, str, str] | None:
    """``[VOLUME:]SEQ.FIELD=VALUE`` → (volume, seq, field, value); None when it names another volume."""
    from pipeline.structure import field_name

    target, sep, value = item.partition("=")
    where, dot, name = target.partition(".")
    if not sep or not dot:
        raise BadInputError(say(N_("--set {item}: write it as SEQ.FIELD=VALUE, e.g. 2.日期=2022-01-04"),
                                item=repr(item)))
    vol, colon, seq = where.rpartition(":")
    try:
        number = int(vol) if colon else volume
        row = int(seq)
    except ValueError as exc:
        raise BadInputError(say(N_("--set {item}: the row (and volume) must be numbers"), item=repr(item))) \
            from exc
    return (number, row, field_name(name.strip()), value.strip()) if number == volume else None


def answer(paused: PausedReview, sets: list[str], reviewer: str, interactive: bool) -> dict:
    """The reviewed rows: as read, with --set applied, and (interactively) each field in doubt asked for."""
    from pipeline.structure import LABELS, reviewed_date

    rows = {e["seq"]: {k: e.get(k, "") for k in ("seq", "title", "doc_no", "author", "date")} for e in paused.entries}
    for item in sets:
        parsed = parse_set(item, paused.volume)
        if parsed is None:
            continue
        _, seq, name, value = parsed
        if seq not in rows:
            raise BadInputError(say(N_("--set {item}: volume {volume} has no row {seq}"), item=repr(item),
                                    volume=paused.volume, seq=seq))
        rows[seq][name] = reviewed_date(value) if name == "date" else value
    if interactive:
        for e in paused.entries:
            doubt = e.get("doubt", "")
            for name, label in LABELS.items():
                if label in doubt or name in doubt:
                    current = rows[e["seq"]][name]
                    given = typer.prompt(f"{e['seq']}.{label} ({e['title'] or '?'})", default=current,
                                         show_default=True)
                    rows[e["seq"]][name] = reviewed_date(given) if name == "date" else given.strip()
    for row in rows.values():
        row["date"] = reviewed_date(row["date"]) if row["date"] else ""
    return {"reviewer": reviewer, "volume": paused.volume, "entries": list(rows.values())}


def resume(paused: PausedReview, data: dict) -> None:
    """Resume the paused run with the reviewed rows (the server checks them against the run's form)."""
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(paused.run_id, run_input=data)


def next_pause(case_no: str, after: PausedReview, timeout: float) -> PausedReview | None:
    """The same run paused again for its next volume, if it does within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find_paused(case_no)
        if found is not None and (found.run_id != after.run_id or found.pause_key != after.pause_key):
            return found
        time.sleep(0.5)
    return None


@catalogue_app.command("review")
def review(
    case_no: Annotated[str, typer.Argument(help="case number (案号)")],
    state: StateOption = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="correct a field: [VOLUME:]SEQ.FIELD=VALUE (FIELD: 题名 文号 责任者 日期 or title doc_no author "
                      "date); repeatable")] = None,
    accept: Annotated[bool, typer.Option("--accept", help="resume without asking: the rows as read, with --set "
                                                          "applied, are confirmed")] = False,
    reviewer: Annotated[Optional[str], typer.Option(
        "--reviewer", "--by", help="the person who reviews, by name (default: the login name of a personal "
                                   "account; refused without one)")] = None,
    wait: Annotated[float, typer.Option("--wait", min=0, help="seconds to wait for the run to pause")] = 0.0,
    next_wait: Annotated[float, typer.Option("--next-wait", min=0, help="seconds to wait for the run's next volume "
                                                                        "to pause")] = 10.0,
) -> None:
    """Confirm or correct the 卷内目录 of the case's run waiting for review, and resume it."""
    home = layout(state)
    who = operator(reviewer)
    connect(home, case_no)
    interactive = not accept and sys.stdin.isatty()
    with reported(everything=True):
        paused = find_paused(case_no)
        deadline = time.monotonic() + wait
        while paused is None and time.monotonic() < deadline:
            time.sleep(0.5)
            paused = find_paused(case_no)
    if paused is None:
        stop(ExitCode.NOT_FOUND, say(N_("no run of case {case_no} is waiting for a 卷内目录 review"), case_no=case_no))
    while paused is not None:
        show(case_no, paused)
        if not accept and not interactive:
            stop(ExitCode.REVIEW_NEEDED, say(N_("not resumed: give --accept (with --set for corrections) or run it in "
                                                "a terminal to be asked")))
        with reported(everything=True):
            data = answer(paused, list(set_ or ()), who, interactive)
        if interactive and not typer.confirm(say(N_("resume the run with this 卷内目录 of volume {volume}?"),
                                                 volume=paused.volume)):
            stop(ExitCode.REVIEW_NEEDED, say(N_("not resumed: the run keeps waiting")))
        with reported(everything=True):
            resume(paused, data)
            console.print(say(N_("volume {volume}: reviewed by {by}, run {run} resumed"), volume=paused.volume,
                              by=data["reviewer"], run=paused.run_id), highlight=False)
            paused = next_pause(case_no, paused, next_wait)
    err.print(say(N_("the run builds its volumes from the reviewed 卷内目录")), highlight=False)

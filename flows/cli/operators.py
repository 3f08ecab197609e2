"""`dossier status` and `dossier requeue`: what the scanning rooms' batches are doing, and a deliberate second try.

``dossier status`` prints one line per batch that fits the terminal (80 columns included): room, batch, 案号, its one
state, since when (local time), and a pointer to the next step, written out in full under the table; ``--json``
follows ``schemas/status.schema.json``; ``dossier status 案号`` is the history of one case
(``schemas/case-history.schema.json``). The computation is the library's (:func:`pipeline.operations.status_report`,
:func:`pipeline.operations.case_history`): the operators' desk shows the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from flows.cli._common import app, err, layout, object_store, operator, reported, settings
from pipeline.messages import N_, say

HomeOption = Annotated[Optional[Path], typer.Option(
    "--home", help="state folder (default $DOSSIER_HOME, else ./.state)", show_default=False)]


def _runs(home: Path, case_no: str | None = None) -> list:
    from pipeline.dossier import find_runs

    return [record for _, record in find_runs(home, case_no)]


def column_widths(rows: list[list[str]], titles: list[str], width: int) -> list[int]:
    """Widths (terminal cells) of the status columns that fit ``width``: each column as wide as its widest cell,
    then the widest shrunk first until the line fits (the state and the 案号 keep the most)."""
    from rich.cells import cell_len

    widths = [max([cell_len(t)] + [cell_len(r[i]) for r in rows]) for i, t in enumerate(titles)]
    floor = [6, 10, 14, 10, 5, cell_len(titles[5])]  # room, batch, 案号, state, since, next: what still reads well
    budget = width - (len(titles) - 1)  # the box's one-cell divider between columns
    while sum(widths) > budget:
        candidates = [i for i in range(len(widths)) if widths[i] > floor[i]]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i] - floor[i])] -= 1
    return widths


def render_status(report, out: Console) -> None:
    """The report as a table that fits the console, and the next steps in full under it."""
    watcher = report.watcher
    if watcher.running:
        head = say(N_("watcher: running on {hotfolder}"), hotfolder=watcher.hotfolder)
        if watcher.machine:
            head += say(N_("; waiting for the machine: {part}"), part=watcher.machine)
    else:
        head = say(N_("watcher: not running"))
    out.print(head + say(N_("  (times: {zone})"), zone=report.timezone), highlight=False)
    if not report.batches:
        out.print(say(N_("no batch in the hot folder or the ledger")), highlight=False)
        return
    wide = out.width >= 100
    notes, rows = [], []
    for row in report.batches:
        pointer = ""
        if row.next_step:
            notes.append((f"{row.room}/{row.batch}", row.next_step, row.reason))
            pointer = f"→{len(notes)}"
        since = row.since_local if wide else _short_time(row.since_local, report.generated_at, report.timezone)
        rows.append([row.room, row.batch, row.case_no or "—", row.label, since, pointer])
    titles = [say(t) for t in (N_("room"), N_("batch"), N_("case number"), N_("state"), N_("since"), N_("next"))]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False, padding=0)
    for title, fit in zip(titles, column_widths(rows, titles, out.width)):
        table.add_column(title, width=fit, no_wrap=True, overflow="ellipsis")
    for cells in rows:
        table.add_row(*cells)
    out.print(table)
    if notes:
        out.print(say(N_("next steps:")), highlight=False)
    for n, (name, step, reason) in enumerate(notes, start=1):
        out.print(f"→{n} {name}: {step}", highlight=False)
        if reason:
            out.print(f"   {reason[:400]}", highlight=False, style="dim")


def _short_time(local: str, now, zone: str) -> str:
    """HH:MM for a moment of today, MM-DD for an older one (a narrow terminal)."""
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(zone) if zone != "UTC" else None).strftime("%m-%d")
    day, _, clock = local.partition(" ")
    return clock if day == today else day


def render_history(history, out: Console) -> None:
    """The case's history, one event a line (wrapped to the console), then its batches now."""
    from pipeline.operations import event_kind_words

    out.print(say(N_("history of {case_no} (times: {zone})"), case_no=history.case_no, zone=history.timezone),
              highlight=False)
    for event in history.events:
        where = f" {event.batch}" if event.batch else ""
        out.print(f"{event.at_local} {event_kind_words(event.kind)}{where}: {event.what}", highlight=False)
    if not history.events:
        out.print(say(N_("nothing recorded for this case in this state folder")), highlight=False)


@app.command()
def status(
    case_no: Annotated[Optional[str], typer.Argument(help="a case number: its history")] = None,
    home: HomeOption = None,
    room: Annotated[Optional[list[str]], typer.Option("--room", help="only this room (repeatable)")] = None,
    state: Annotated[Optional[list[str]], typer.Option(
        "--state", help="only batches in this state (repeatable): arriving waiting claimed running review retrying "
                        "held published quarantined requeued")] = None,
    hotfolder: Annotated[Optional[list[Path]], typer.Option(
        "--hotfolder", help="also list the batches waiting in this hot folder's rooms (default: the watcher's)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON (schemas/status.schema.json)")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="batches to show, newest first")] = 50,
) -> None:
    """Every batch, one state each, and what to do next; with a case number, the case's history."""
    from pipeline.dossier import case_reviews, find_runs
    from pipeline.operations import case_history, status_report
    from pipeline.storage import same_case

    folder = layout(home).root
    zone = settings().locale.zone()
    out = Console(soft_wrap=False, highlight=False)
    with reported():
        if case_no:
            history = case_history(folder, case_no, same_case(case_no), _runs(folder, case_no),
                                   case_reviews([f for f, _ in find_runs(folder, case_no)]), zone=zone)
            if as_json:
                print(history.model_dump_json(indent=2))
            else:
                render_history(history, out)
            return
        extra = list(hotfolder or [])
        if not extra and settings().operations.hotfolder:
            extra.append(settings().operations.hotfolder)
        report = status_report(folder, _runs(folder), extra, zone=zone, rooms=room or (), states=state or (),
                               limit=limit)
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        render_status(report, out)


@app.command()
def requeue(
    batch: Annotated[str, typer.Argument(help="ROOM/BATCH as it lies in the quarantine folder")],
    hotfolder: Annotated[Optional[Path], typer.Option(
        "--hotfolder", help="the hot folder (default: the watcher's, else $DOSSIER_HOTFOLDER)")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="the person who asks for it, by name")] = None,
    home: HomeOption = None,
) -> None:
    """Put a quarantined batch back into its room, to be taken again (audited, with the name of who asked)."""
    from flows.cli.access import AdminAudit
    from pipeline.errors import BadInputError
    from pipeline.operations import Ledger, find_quarantined, read_watcher_state
    from pipeline.operations import requeue as put_back

    who = operator(by)
    folder = layout(home).root
    room, _, name = batch.strip("/").partition("/")
    with reported():
        if not room or not name or "/" in name:
            raise BadInputError(f"{batch!r}: name the batch as ROOM/BATCH, as it lies in quarantine/")
        watcher = read_watcher_state(folder)
        hot = hotfolder or (Path(watcher.hotfolder) if watcher else None) or settings().operations.hotfolder
        if hot is None:
            raise BadInputError("which hot folder? give --hotfolder (no watcher of this state folder has run)")
        ledger = Ledger(folder)
        entry = find_quarantined(ledger, Path(hot), room, name)
        with AdminAudit(object_store(home), home) as audit:  # stored before the batch moves: no entry, no requeue
            audit(action="batch.requeue", actor=who, case_no=entry.case_no, target=f"{room}/{name}",
                  detail=f"fingerprint {entry.fingerprint[:16]}; was: {entry.reason[:300]}")
            done = put_back(ledger, Path(hot), room, name, who)
    err.print(say(N_("{batch} is back in room {room} as {name}: the watcher takes it again (requeued by {by})"),
                  batch=batch, room=done.room, name=done.batch, by=who), highlight=False)
    print(json.dumps({"room": done.room, "batch": done.batch, "fingerprint": done.fingerprint}, ensure_ascii=False))

"""`dossier watch` and `dossier status`: hot folders, and what became of recent batches and runs."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.cli._common import StateOption, app, console, err, layout, reported, settings, stop, stopped_by_signals
from flows.cli.process import prefect_environment
from flows.tempserver import TemporaryServer
from pipeline.errors import ExitCode


@app.command()
def watch(
    hotfolder: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                              help="hot folder: <hotfolder>/<room>/<batch>")],
    state: StateOption = None,
    poll: Annotated[bool, typer.Option("--poll", help="poll instead of inotify (NFS/CIFS shares)")] = False,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.2, help="seconds between polls")] = 2.0,
    deployment: Annotated[str, typer.Option("--deployment", help="deployment to run")] = "process-batch/process-batch",
    in_process: Annotated[Optional[bool], typer.Option(
        "--in-process/--server", help="run flows here (default when no Prefect server is configured)")] = None,
    once: Annotated[bool, typer.Option("--once", help="catch up, process what is complete, then exit")] = False,
    rooms: Annotated[Optional[Path], typer.Option(
        "--rooms", dir_okay=False, help="the administrator's rooms file (default $DOSSIER_ROOMS_FILE, else "
                                        "<state>/rooms.yaml)")] = None,
) -> None:
    """Watch a hot folder: claim each complete batch once, start its run, move it to done/ or quarantine/."""
    import logging

    from rich.logging import RichHandler

    home = layout(state)
    prefect_environment(home)
    handler = RichHandler(console=err, show_path=False)
    log = logging.getLogger("dossier.watch")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    configured = bool(os.environ.get("PREFECT_API_URL"))  # PREFECT_HOME is the state folder's otherwise: no profile
    local = not configured if in_process is None else in_process
    if not local and not configured:
        stop(ExitCode.CONFIGURATION, "--server needs a Prefect server: set PREFECT_API_URL (or drop --server)")
    with stopped_by_signals(), ExitStack() as stack:
        # runs made here need an API: our own temporary server (tied to this process) rather than the one Prefect
        # would start by itself on the first run, which outlived a watcher stopped by SIGTERM; started before
        # Prefect is imported, which reads PREFECT_API_URL once
        server = stack.enter_context(TemporaryServer()) if local and not configured else None
        from flows.watch import Watcher, make_submitter, rooms_file

        with reported(everything=server is not None):
            if server is not None:
                server.wait()
            watcher = Watcher(hotfolder, home.root, make_submitter(home.root, deployment, local), poll=poll,
                              poll_interval=poll_interval, rooms=rooms or rooms_file(settings(), home.root))
        watcher.run(until_idle=once)


def same_case(wanted: str | None, case_no: str) -> bool:
    """Whether a recorded case number is the one asked for (any when none is asked for)."""
    from pipeline.errors import CaseNumberError
    from pipeline.storage import normalise_case_no

    if wanted is None:
        return True
    try:
        return normalise_case_no(case_no) == wanted
    except CaseNumberError:  # an unreadable case number is not this case
        return False


@app.command()
def status(
    case_no: Annotated[Optional[str], typer.Argument(help="only this case")] = None,
    state: StateOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 20,
) -> None:
    """Recent batches and runs: hot-folder outcomes from the ledger, dossier runs from the work folder."""
    from rich.table import Table

    from pipeline.dossier import find_runs
    from pipeline.operations import Ledger
    from pipeline.storage import normalise_case_no

    home = layout(state)
    wanted = normalise_case_no(case_no) if case_no else None
    batches = Table(title="hot-folder batches", show_lines=False)
    for col in ("updated", "room/batch", "case", "state", "run", "where", "reason"):
        batches.add_column(col, overflow="fold")
    for e in [e for e in Ledger(home.root).entries() if same_case(wanted, e.case_no)][:limit]:
        where = e.outcome_path if e.state in ("done", "quarantined") else e.claim_path
        dup = f" (+{len(e.duplicates)} duplicate)" if e.duplicates else ""
        batches.add_row(f"{e.updated_at:%m-%d %H:%M:%S}", f"{e.room}/{e.batch}", e.case_no, e.state + dup,
                        (e.run_id or "")[:8], where or "", e.reason[:120])
    runs = Table(title="dossier runs", show_lines=False)
    for col in ("updated", "case", "batch", "kind", "status", "volumes", "failed", "run", "error"):
        runs.add_column(col, overflow="fold")
    for _, r in find_runs(home.root, case_no)[:limit]:
        runs.add_row(f"{r.updated:%m-%d %H:%M:%S}", r.case_no, r.batch_id, r.kind, r.status, str(r.volumes),
                     ",".join(map(str, r.failed_volumes)), (r.flow_run_id or "")[:8], r.error[:120])
    console.print(batches)
    console.print(runs)

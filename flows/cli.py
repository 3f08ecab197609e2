"""The `dossier` console script: the library's commands plus those that run Prefect flows.

Flow commands: ``process`` (one batch folder), ``rerun`` (finish a failed dossier), ``reprocess`` (rebuild a published
one from its originals), ``watch`` (hot folders) and ``status`` (recent batches and runs).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.tempserver import TemporaryServer
from pipeline.cli import app
from pipeline.config import state_dir

console = Console()
err = Console(stderr=True)


def prefect_environment(home: Path) -> None:
    """Quiet, local defaults for Prefect unless the user configured a server; must run before Prefect is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
        # the temporary server's first start creates its database: give it time on a loaded machine
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


StateOption = typer.Option(None, "--state", help="state folder (default $DOSSIER_HOME or ./.state)")


@contextmanager
def progress_bars(enabled: bool):
    """Rich bars for pages imaged, pages OCRed and volumes built, fed by :mod:`flows.progress`."""
    if not enabled:
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from flows import progress as hub

    bars = Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False)
    labels = {"pages": "pages imaged", "ocr": "pages OCRed", "volumes": "volumes built"}
    ids = {stage: bars.add_task(label, total=None) for stage, label in labels.items()}

    def listener(stage: str, event: str, n: int) -> None:
        if stage not in ids:
            return
        if event == "total":
            bars.update(ids[stage], total=n)
        else:
            bars.advance(ids[stage], n)

    stop = hub.listen(listener)
    with bars:
        try:
            yield
        finally:
            stop()


def _run(call, show_progress: bool):
    try:
        with progress_bars(show_progress):
            return call()
    except Exception as exc:  # the flow has logged the traceback; the user gets one clear line
        err.print(f"[red]failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


def _print_result(result: dict) -> None:
    keep = ("case_no", "batch_id", "folder", "volumes", "pages", "pages_processed", "pages_from_cache",
            "volumes_built", "volumes_reused", "report_passed", "published", "manifest_version", "supersedes")
    for k in keep:
        if k in result:
            console.print(f"{k:>18}: {result[k]}", highlight=False)


@app.command()
def process(
    batch_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="batch folder of page images"),
    case: Optional[str] = typer.Option(None, "--case", help="case number, for a batch without batch.json"),
    profile: Optional[str] = typer.Option(None, "--profile", help="standard profile: built-in name or YAML path"),
    state: Optional[Path] = StateOption,
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="pages at once (default: cores)"),
    publish: bool = typer.Option(True, "--publish/--no-publish", help="publish to the object store"),
    dask_address: Optional[str] = typer.Option(None, "--dask-address",
                                               help="run page tasks on this dask.distributed scheduler"),
    show_progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                                 help="progress bars (default: when stderr is a terminal)"),
) -> None:
    """Process one batch folder into a signed PDF/A dossier and publish it."""
    home = state_dir(state)
    prefect_environment(home)
    with ExitStack() as stack:
        server = None if os.environ.get("PREFECT_API_URL") else stack.enter_context(TemporaryServer())
        from flows.process import default_task_runner, process_batch

        runner = default_task_runner(workers, dask_address)
        if server is not None:
            server.wait()
        result = _run(lambda: process_batch.with_options(task_runner=runner)(
            str(batch_dir), case_no=case, profile=profile, state=str(home), publish=publish),
            sys.stderr.isatty() if show_progress is None else show_progress)
    _print_result(result)


def _submit(deployment: str, parameters: dict) -> dict:
    """Run a deployment on the server and wait for it; returns its result when the server kept one."""
    from prefect.deployments import run_deployment

    run = run_deployment(deployment, parameters=parameters, as_subflow=False)
    console.print(f"flow run {run.id}: {run.state.name if run.state else '?'}", highlight=False)
    if not run.state or not run.state.is_completed():
        raise RuntimeError(f"flow run {run.id} ended {run.state.name if run.state else '?'}: "
                           f"{run.state.message if run.state else ''}")
    return {}


@app.command()
def rerun(
    case_no: str = typer.Argument(..., help="case number (案号)"),
    volume: Optional[list[int]] = typer.Option(None, "--volume", "-v", min=1,
                                               help="volume to rebuild (repeatable); default: every missing one"),
    batch: Optional[str] = typer.Option(None, "--batch", help="batch id, when the case has several"),
    state: Optional[Path] = StateOption,
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="pages at once (default: cores)"),
    submit: bool = typer.Option(False, "--submit", help="run it as the rerun-volume deployment on the server"),
    show_progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
) -> None:
    """Finish a failed dossier: rebuild the failed volume(s) from cached pages, reuse the rest, publish."""
    home = state_dir(state)
    prefect_environment(home)
    params = {"case_no": case_no, "volumes": volume or None, "batch_id": batch, "state": str(home)}
    if submit:
        _run(lambda: _submit("rerun-volume/rerun-volume", params), False)
        return
    from flows.process import default_task_runner
    from flows.rerun import rerun_volume

    result = _run(lambda: rerun_volume.with_options(task_runner=default_task_runner(workers))(**params),
                  sys.stderr.isatty() if show_progress is None else show_progress)
    _print_result(result)


@app.command()
def reprocess(
    case_no: str = typer.Argument(..., help="case number (案号)"),
    profile: Optional[str] = typer.Option(None, "--profile", help="standard profile: built-in name or YAML path"),
    state: Optional[Path] = StateOption,
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="pages at once (default: cores)"),
    submit: bool = typer.Option(False, "--submit", help="run it as the reprocess-case deployment on the server"),
    show_progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
) -> None:
    """Rebuild a published dossier from its archived originals under a standard profile and republish it."""
    home = state_dir(state)
    prefect_environment(home)
    params = {"case_no": case_no, "profile": profile, "state": str(home)}
    if submit:
        _run(lambda: _submit("reprocess-case/reprocess-case", params), False)
        return
    from flows.process import default_task_runner
    from flows.rerun import reprocess_case

    result = _run(lambda: reprocess_case.with_options(task_runner=default_task_runner(workers))(**params),
                  sys.stderr.isatty() if show_progress is None else show_progress)
    _print_result(result)


@app.command()
def watch(
    hotfolder: Path = typer.Argument(..., exists=True, file_okay=False, help="hot folder: <hotfolder>/<room>/<batch>"),
    state: Optional[Path] = StateOption,
    poll: bool = typer.Option(False, "--poll", help="poll instead of inotify (NFS/CIFS shares)"),
    poll_interval: float = typer.Option(2.0, "--poll-interval", min=0.2, help="seconds between polls"),
    deployment: str = typer.Option("process-batch/process-batch", "--deployment", help="deployment to run"),
    in_process: Optional[bool] = typer.Option(None, "--in-process/--server",
                                              help="run flows here (default when no Prefect server is configured)"),
    once: bool = typer.Option(False, "--once", help="catch up, process what is complete, then exit"),
) -> None:
    """Watch a hot folder: claim each complete batch once, start its run, move it to done/ or quarantine/."""
    import logging

    from rich.logging import RichHandler

    home = state_dir(state)
    prefect_environment(home)
    handler = RichHandler(console=err, show_path=False)
    log = logging.getLogger("dossier.watch")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    from flows.watch import Watcher, make_submitter

    watcher = Watcher(hotfolder, home, make_submitter(home, deployment, in_process), poll=poll,
                      poll_interval=poll_interval)
    try:
        watcher.run(until_idle=once)
    except KeyboardInterrupt:
        err.print("stopped")


@app.command()
def status(
    case_no: Optional[str] = typer.Argument(None, help="only this case"),
    state: Optional[Path] = StateOption,
    limit: int = typer.Option(20, "--limit", min=1, help="rows to show"),
) -> None:
    """Recent batches and runs: hot-folder outcomes from the ledger, dossier runs from the work folder."""
    from rich.table import Table

    from flows.runstate import find_runs
    from pipeline.casekey import normalise_case_no
    from pipeline.hotfolder import Ledger

    home = state_dir(state)
    wanted = normalise_case_no(case_no) if case_no else None

    def same(no: str) -> bool:
        if wanted is None:
            return True
        try:
            return normalise_case_no(no) == wanted
        except Exception:  # noqa: BLE001 - an unreadable case number is not this case
            return False

    batches = Table(title="hot-folder batches", show_lines=False)
    for col in ("updated", "room/batch", "case", "state", "run", "where", "reason"):
        batches.add_column(col, overflow="fold")
    for e in [e for e in Ledger(home).entries() if same(e.case_no)][:limit]:
        where = e.outcome_path if e.state in ("done", "quarantined") else e.claim_path
        dup = f" (+{len(e.duplicates)} duplicate)" if e.duplicates else ""
        batches.add_row(f"{e.updated_at:%m-%d %H:%M:%S}", f"{e.room}/{e.batch}", e.case_no, e.state + dup,
                        (e.run_id or "")[:8], where or "", e.reason[:120])
    runs = Table(title="dossier runs", show_lines=False)
    for col in ("updated", "case", "batch", "kind", "status", "volumes", "failed", "run", "error"):
        runs.add_column(col, overflow="fold")
    for _, r in find_runs(home, case_no)[:limit]:
        runs.add_row(f"{r.updated:%m-%d %H:%M:%S}", r.case_no, r.batch_id, r.kind, r.status, str(r.volumes),
                     ",".join(map(str, r.failed_volumes)), (r.flow_run_id or "")[:8], r.error[:120])
    console.print(batches)
    console.print(runs)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()

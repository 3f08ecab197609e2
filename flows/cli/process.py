"""`dossier process`, `rerun` and `reprocess`: the Prefect flows run from a terminal, with progress bars.

Without a configured Prefect server (PREFECT_API_URL) each command starts a temporary one of its own
(:mod:`flows.tempserver`) and stops it when it ends, however it ends.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from flows.cli._common import (
    DevelopmentKeyOption,
    StateOption,
    app,
    console,
    err,
    layout,
    reported,
    settings,
    stopped_by_signals,
    use_development_key,
)
from pipeline.settings import StateLayout

WorkersOption = Annotated[Optional[int], typer.Option("--workers", min=1, help="pages at once (default: cores)")]
ProgressOption = Annotated[Optional[bool], typer.Option("--progress/--no-progress",
                                                        help="progress bars (default: when stderr is a terminal)")]
ProfileOption = Annotated[Optional[str], typer.Option("--profile",
                                                      help="standard profile: built-in name or YAML path")]


class ReviewMode(str, Enum):  # noqa: UP042 - typer's choices want a str Enum
    """When a run pauses for a person to check the 卷内目录."""

    flagged = "flagged"
    always = "always"
    never = "never"


ReviewOption = Annotated[Optional[ReviewMode], typer.Option(
    "--review", help="pause for a 卷内目录 review when a field is in doubt (flagged), always, or never (publish with "
                     "the flags); default: the profile's")]


def prefect_environment(state: StateLayout) -> None:
    """Quiet, local defaults for Prefect unless the user configured a server; must run before Prefect is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(state.prefect))
        # the temporary server's first start creates its database: give it time on a loaded machine
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@contextmanager
def progress_bars(enabled: bool):
    """Rich bars for pages imaged, pages OCRed and volumes built, fed by :mod:`flows.progress`."""
    if not enabled:
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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

    stop_listening = hub.listen(listener)
    with bars:
        try:
            yield
        finally:
            stop_listening()


def run_flow(prepare: Callable[[], Callable[[], Any]], show_progress: bool | None) -> Any:
    """Run a flow here, under a temporary Prefect server when none is configured; a failure is one error line.

    ``prepare`` imports the flow and returns the call that runs it: it runs while the temporary server boots.
    """
    with stopped_by_signals(), ExitStack() as stack:
        server = None
        if not os.environ.get("PREFECT_API_URL"):
            from flows.tempserver import TemporaryServer

            server = stack.enter_context(TemporaryServer())
        with reported(everything=True):
            call = prepare()
            if server is not None:
                server.wait()
            with progress_bars(sys.stderr.isatty() if show_progress is None else show_progress):
                return call()


def task_runner(workers: int | None, dask_address: str | None = None):
    """The page task runner: threads here (--workers, else DOSSIER_WORKERS, else cores) or a dask cluster."""
    from flows.process import default_task_runner

    processing = settings().processing
    return default_task_runner(workers or processing.page_workers, dask_address or processing.dask_address or None)


def machine_ready(home: StateLayout, **what) -> None:
    """Refuse to start (exit 8 or 5, one line) when a part of the machine the command needs is not ready: checked
    before the temporary Prefect server starts or a page is read."""
    from flows.preflight import require_machine

    with reported():
        require_machine(settings(), home.root, **what)


def batch_owner(batch_dir: Path, agency: str | None) -> None:
    """Refuse, before any work, a batch run by hand that no agency would own (no batch.json agency, no --agency),
    or whose --agency contradicts its batch.json (exit 3)."""
    from pipeline.capture import read_batch_manifest
    from pipeline.errors import BadInputError

    with reported():
        manifest = read_batch_manifest(batch_dir)
        named = manifest.agency.strip() if manifest is not None else ""
        if agency and named and agency.strip() != named:
            raise BadInputError(f"--agency {agency} differs from batch.json's agency {named}", "batch.json")
        if not (agency or "").strip() and not named:
            raise BadInputError(f"batch {batch_dir.name}: no agency would own its dossier: name it in batch.json "
                                f"(\"agency\") or give --agency", "batch.json")


def print_result(result: dict) -> None:
    """The run's result, one field a line."""
    keep = ("case_no", "batch_id", "folder", "volumes", "pages", "pages_processed", "pages_from_cache",
            "volumes_built", "volumes_reused", "report_passed", "published", "manifest_version", "supersedes")
    for k in keep:
        if k in result:
            console.print(f"{k:>18}: {result[k]}", highlight=False)


@app.command()
def process(
    batch_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="batch folder of page images")],
    case: Annotated[Optional[str], typer.Option("--case", help="case number, for a batch without batch.json")] = None,
    profile: ProfileOption = None,
    state: StateOption = None,
    workers: WorkersOption = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="publish to the object store")] = True,
    dask_address: Annotated[Optional[str], typer.Option(
        "--dask-address", help="run page tasks on this dask.distributed scheduler")] = None,
    show_progress: ProgressOption = None,
    review: ReviewOption = None,
    development_key: DevelopmentKeyOption = False,
    agency: Annotated[Optional[str], typer.Option(
        "--agency", help="the agency that owns the dossier, for a batch whose batch.json names none")] = None,
) -> None:
    """Process one batch folder into a signed PDF/A dossier and publish it.

    When the run pauses for a 卷内目录 review, review it from another terminal: dossier catalogue review 案号."""
    use_development_key(development_key)
    home = layout(state)
    batch_owner(batch_dir, agency)
    machine_ready(home, profile=profile, store=publish)
    prefect_environment(home)

    def prepare() -> Callable[[], dict]:
        from flows.process import process_batch, warm_up
        from pipeline.standard import load_profile

        if not (dask_address or settings().processing.dask_address):  # pages are read here: load the engine now
            warm_up(load_profile(profile), workers or settings().processing.page_workers)
        flow = process_batch.with_options(task_runner=task_runner(workers, dask_address))
        return lambda: flow(str(batch_dir), case_no=case, profile=profile, state=str(home.root), publish=publish,
                            review=review.value if review else None, agency=agency)

    print_result(run_flow(prepare, show_progress))


def submit(deployment: str, parameters: dict, name: str, tags: list[str]) -> dict:
    """Run a deployment on the server (named and tagged by what it does, as the desk's runs) and wait for it."""
    from prefect.deployments import run_deployment

    from pipeline.errors import DossierError

    run = run_deployment(deployment, parameters=parameters, as_subflow=False, flow_run_name=name, tags=tags)
    console.print(f"flow run {run.id}: {run.state.name if run.state else '?'}", highlight=False)
    if not run.state or not run.state.is_completed():
        raise DossierError(f"flow run {run.id} ended {run.state.name if run.state else '?'}: "
                           f"{run.state.message if run.state else ''}")
    return {}


@app.command()
def rerun(
    case_no: Annotated[str, typer.Argument(help="case number (案号)")],
    volume: Annotated[Optional[list[int]], typer.Option(
        "--volume", "-v", min=1, help="volume to rebuild (repeatable); default: every missing one")] = None,
    batch: Annotated[Optional[str], typer.Option("--batch", help="batch id, when the case has several")] = None,
    state: StateOption = None,
    workers: WorkersOption = None,
    on_server: Annotated[bool, typer.Option("--submit", help="run it as the rerun-volume deployment on the server")]
    = False,
    show_progress: ProgressOption = None,
    development_key: DevelopmentKeyOption = False,
) -> None:
    """Finish a failed dossier: rebuild the failed volume(s) from cached pages, reuse the rest, publish."""
    use_development_key(development_key)
    home = layout(state)
    if not on_server:
        machine_ready(home)
    prefect_environment(home)
    from flows.orchestration import rerun_parameters

    params = rerun_parameters(case_no, volume, batch, str(home.root))
    if on_server:
        with reported(everything=True):
            from flows.orchestration import RERUN
            from flows.runlabels import run_name, run_tags

            submit(RERUN, params, run_name(case_no, "rerun", volume or ()), run_tags(case_no))
        return

    def prepare() -> Callable[[], dict]:
        from flows.rerun import rerun_volume

        flow = rerun_volume.with_options(task_runner=task_runner(workers))
        return lambda: flow(**params)

    print_result(run_flow(prepare, show_progress))


@app.command()
def reprocess(
    case_no: Annotated[str, typer.Argument(help="case number (案号)")],
    profile: ProfileOption = None,
    state: StateOption = None,
    workers: WorkersOption = None,
    on_server: Annotated[bool, typer.Option(
        "--submit", help="run it as the reprocess-case deployment on the server")] = False,
    show_progress: ProgressOption = None,
    development_key: DevelopmentKeyOption = False,
) -> None:
    """Rebuild a published dossier from its archived originals under a standard profile and republish it."""
    use_development_key(development_key)
    home = layout(state)
    if not on_server:
        machine_ready(home, profile=profile)
    prefect_environment(home)
    params = {"case_no": case_no, "profile": profile, "state": str(home.root)}
    if on_server:
        with reported(everything=True):
            from flows.orchestration import REPROCESS
            from flows.runlabels import run_name, run_tags

            submit(REPROCESS, params, run_name(case_no, "reprocess", profile=profile), run_tags(case_no))
        return

    def prepare() -> Callable[[], dict]:
        from flows.rerun import reprocess_case

        flow = reprocess_case.with_options(task_runner=task_runner(workers))
        return lambda: flow(**params)

    print_result(run_flow(prepare, show_progress))

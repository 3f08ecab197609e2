"""`dossier watch`: take the scanning rooms' batches from a hot folder, once the machine is ready."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.cli._common import StateOption, app, err, layout, reported, settings, stop, stopped_by_signals
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

    from flows.preflight import require_machine, rooms_file_of, watcher_check

    home = layout(state)
    configured = bool(os.environ.get("PREFECT_API_URL"))  # PREFECT_HOME is the state folder's otherwise: no profile
    local = not configured if in_process is None else in_process
    if not local and not configured:
        stop(ExitCode.CONFIGURATION, "--server needs a Prefect server: set PREFECT_API_URL (or drop --server)")
    rooms_path = rooms or rooms_file_of(settings(), home)
    with reported():  # before anything starts: a machine that cannot publish takes no batch (exit 8 or 5)
        require_machine(settings(), home.root, rooms=rooms_path, hotfolder=hotfolder)
    prefect_environment(home)
    handler = RichHandler(console=err, show_path=False)
    log = logging.getLogger("dossier.watch")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    with stopped_by_signals(), ExitStack() as stack:
        # runs made here need an API: our own temporary server (tied to this process) rather than the one Prefect
        # would start by itself on the first run, which outlived a watcher stopped by SIGTERM; started before
        # Prefect is imported, which reads PREFECT_API_URL once
        server = stack.enter_context(TemporaryServer()) if local and not configured else None
        from flows.watch import Watcher, make_submitter

        with reported(everything=server is not None):
            if server is not None:
                server.wait()
            watcher = Watcher(hotfolder, home.root, make_submitter(home.root, deployment, local), poll=poll,
                              poll_interval=poll_interval, rooms=rooms_path,
                              machine=watcher_check(settings(), home.root, rooms_path, hotfolder))
        watcher.run(until_idle=once)

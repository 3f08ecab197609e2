"""`dossier store start|stop|status`: the embedded object store (SeaweedFS on 127.0.0.1) of a state folder."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flows.cli._common import StateOption, app, console, layout, reported, settings, stop
from pipeline.errors import ExitCode

store_app = typer.Typer(help="Run the embedded object store (SeaweedFS on 127.0.0.1).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("start")
def store_start(state: StateOption = None,
                port: Annotated[Optional[int], typer.Option(
                    help="base port: S3 on it, filer/master/volume/admin on +1..+4, gRPC on +10000 "
                         "(default $DOSSIER_STORE_PORT, else 8333)")] = None,
                bucket: Annotated[Optional[str], typer.Option(help="bucket (default $DOSSIER_S3_BUCKET, else "
                                                                   "dossiers)")] = None,
                timeout: Annotated[float, typer.Option(help="seconds to wait until S3 answers")] = 60.0) -> None:
    """Start the embedded store and wait until S3 answers; creates credentials and the bucket on first start."""
    from pipeline.storage import EmbeddedStore

    store = settings().store
    with reported():
        status = EmbeddedStore(layout(state).root, base_port=port or store.store_port,
                               bucket=bucket or store.bucket or None).start(timeout=timeout)
    console.print(f"running  pid {status.pid}  endpoint http://{status.endpoint}  bucket {status.bucket}  "
                  f"state {status.state_dir}", highlight=False)


@store_app.command("stop")
def store_stop(state: StateOption = None,
               timeout: Annotated[float, typer.Option(help="seconds to wait after SIGTERM before SIGKILL")] = 60.0
               ) -> None:
    """Stop the embedded store (SIGTERM, then SIGKILL after the timeout)."""
    from pipeline.storage import EmbeddedStore

    with reported():
        stopped = EmbeddedStore(layout(state, create=False).root).stop(timeout=timeout)
    console.print("stopped" if stopped else "not running")


@store_app.command("status")
def store_status(state: StateOption = None) -> None:
    """Say whether the embedded store runs, with its endpoint, bucket and pid (exit 5 when it does not)."""
    from pipeline.storage import EmbeddedStore

    status = EmbeddedStore(layout(state, create=False).root).status()
    word = "running" if status.running else "not running"
    console.print(f"{word}  pid {status.pid or '-'}  endpoint http://{status.endpoint}  bucket {status.bucket}  "
                  f"answering {'yes' if status.answering else 'no'}  state {status.state_dir}", highlight=False)
    if not status.running:
        stop(ExitCode.UNAVAILABLE)

"""The `dossier` console script: the library's commands plus those that run Prefect flows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from pipeline.cli import app
from pipeline.config import state_dir

console = Console()


def prefect_environment(home: Path) -> None:
    """Quiet, local defaults for Prefect unless the user configured a server; must run before Prefect is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
        # the temporary server's first start creates its database: give it time on a loaded machine
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@app.command()
def process(
    batch_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="batch folder of page images"),
    case: Optional[str] = typer.Option(None, "--case", help="case number, for a batch without batch.json"),
    profile: Optional[str] = typer.Option(None, "--profile", help="standard profile: built-in name or YAML path"),
    state: Optional[Path] = typer.Option(None, "--state", help="state folder (default $DOSSIER_HOME or ./.state)"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="pages at once (default: cores)"),
    publish: bool = typer.Option(True, "--publish/--no-publish", help="publish to the object store"),
) -> None:
    """Process one batch folder into a signed PDF/A dossier and publish it."""
    from pipeline.config import default_workers

    home = state_dir(state)
    prefect_environment(home)
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.process import process_batch

    runner = ThreadPoolTaskRunner(max_workers=workers or default_workers())
    try:
        result = process_batch.with_options(task_runner=runner)(
            str(batch_dir), case_no=case, profile=profile, state=str(home), publish=publish
        )
    except Exception as exc:  # the flow has logged the traceback; the user gets one clear line
        console.print(f"[red]failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(result)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()

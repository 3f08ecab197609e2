"""What every `dossier` command shares: the app, the consoles, the --state option, settings, and one error style.

An error is one red ``error:`` line on stderr and the exit code of its class (:class:`pipeline.errors.ExitCode`).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console

from pipeline.errors import DossierError, ExitCode, exit_code_of
from pipeline.settings import Settings, StateLayout

app = typer.Typer(
    name="dossier",
    help="Scan-to-dossier: raw scans of case files in, signed PDF/A volumes out.",
    no_args_is_help=True,
    add_completion=False,
)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StateOption = Annotated[Optional[Path], typer.Option(
    "--state", help="state folder (default $DOSSIER_HOME, else ./.state)", show_default=False)]


DevelopmentKeyOption = Annotated[bool, typer.Option(
    "--development-key", help="when no signing key is configured, sign with (and trust) the generated development "
                              "key: for the demo only (same as DOSSIER_DEVELOPMENT_KEY=1)")]

_loaded: Settings | None = None


@app.callback()
def _start() -> None:
    """Scan-to-dossier: raw scans of case files in, signed PDF/A volumes out."""
    global _loaded
    _loaded = Settings.load()  # once per command, before it runs


def settings() -> Settings:
    """The settings of the running command, read from the environment when it started."""
    return _loaded if _loaded is not None else Settings.load()


def use_development_key(wanted: bool) -> None:
    """--development-key: this command and the flows it runs here sign with and trust the development key when no
    key is configured (DOSSIER_DEVELOPMENT_KEY=1 for this process)."""
    global _loaded
    if wanted:
        os.environ["DOSSIER_DEVELOPMENT_KEY"] = "1"
        _loaded = Settings.load()


def layout(state: Path | None, create: bool = True) -> StateLayout:
    """The state folder: --state, else DOSSIER_HOME, else ./.state (created unless ``create`` is False); one that
    another user could change is refused (exit 8)."""
    try:
        return StateLayout.at(state or settings().paths.home, create=create)
    except DossierError as exc:
        fail(exc)


def object_store(state: Path | None):
    """A client of the configured object store (DOSSIER_S3_*), else of the state folder's embedded store."""
    from pipeline.storage import ObjectStore, StoreConfig

    return ObjectStore(StoreConfig.from_settings(settings().store, layout(state).root))


def fail(exc: BaseException) -> NoReturn:
    """Print an error in the one style and end with its exit code."""
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code_of(exc))


def stop(code: ExitCode, message: str | None = None) -> NoReturn:
    """End with an exit code, printing ``message`` as an error first when given."""
    if message:
        err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported(everything: bool = False) -> Iterator[None]:
    """Turn the pipeline's errors raised inside (with ``everything``, any exception: a flow has logged its
    traceback already) into one error line and their exit code."""
    try:
        yield
    except DossierError as exc:
        fail(exc)
    except Exception as exc:
        if not everything:
            raise
        fail(exc)


class Stopped(KeyboardInterrupt):
    """The command was asked to stop by a signal (SIGTERM, SIGINT)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Let SIGTERM and SIGINT stop the command cleanly at any stage: the signal becomes an exception in the main
    thread (after Prefect has marked a running flow as crashed), every ``with`` on the way out closes what it opened
    (the temporary Prefect server, the watcher's observer), one ``error: stopped`` line is printed and the command
    ends with 128 + the signal's number (130, 143), as a shell reports it. A second signal ends the process at once.
    """
    received: list[int] = []

    def handler(signum: int, frame) -> None:
        if received:
            os._exit(128 + signum)
        received.append(signum)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except Stopped as exc:
        err.print(f"[red]error:[/red] stopped by {exc}; work done so far is kept (finished pages are cached, a claimed "
                  f"batch stays claimed): run the command again to go on", highlight=False, soft_wrap=True)
        raise typer.Exit(128 + exc.signum) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def operator() -> str:
    """Who runs this command, for the audit log."""
    return f"cli:{os.environ.get('USER', '?')}"

"""What every `dossier` command shares: the app, the consoles, the --state option, settings, and one error style.

An error is one red ``错误：`` line on stderr — what happened and what to do next in the reader's language
(``DOSSIER_LANG``), then the technical detail — and the exit code of its class (:class:`pipeline.errors.ExitCode`);
no traceback for an error the pipeline expects (``dossier -v …`` shows it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.errors import DossierError, ExitCode, exit_code_of, explain
from pipeline.messages import N_, say, use_language
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
_verbose = False


def _version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import PackageNotFoundError, version

        from pipeline import __version__

        try:
            installed = version("scan-to-dossier")
        except PackageNotFoundError:
            installed = __version__
        console.print(f"dossier (scan-to-dossier) {installed}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _start(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show the traceback of an error")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Scan-to-dossier: raw scans of case files in, signed PDF/A volumes out."""
    global _loaded, _verbose
    _verbose = verbose
    try:
        _loaded = Settings.load()  # once per command, before it runs
    except DossierError as exc:
        fail(exc)
    use_language(_loaded.locale.language)


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


def error_line(message: str) -> str:
    """An error line in the reader's language (markup: its first word in red)."""
    word, _, rest = say(N_("error: {message}"), message="\0").partition("\0")
    return f"[red]{escape(word.rstrip())}[/red]{' ' if word.endswith(' ') else ''}{escape(message)}{escape(rest)}"


def fail(exc: BaseException) -> NoReturn:
    """Print an error in the one style (the people's words, then the detail; the traceback with -v) and end with its
    exit code."""
    if _verbose:
        err.print("".join(traceback.format_exception(exc)).rstrip(), highlight=False, markup=False)
    err.print(error_line(explain(exc)), highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code_of(exc))


def stop(code: ExitCode, message: str | None = None) -> NoReturn:
    """End with an exit code, printing ``message`` as an error first when given."""
    if message:
        err.print(error_line(message), highlight=False, soft_wrap=True)
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


STOP_GRACE_SECONDS = 20.0
"""How long a command stopped by a signal may take to close what it opened before it ends at once."""


@contextlib.contextmanager
def stopped_by_signals(grace_seconds: float = STOP_GRACE_SECONDS) -> Iterator[None]:
    """Let SIGTERM and SIGINT stop the command cleanly at any stage: the signal becomes an exception in the main
    thread (after Prefect has marked a running flow as crashed), every ``with`` on the way out closes what it opened
    (the temporary Prefect server, the watcher's observer), one ``error: stopped`` line is printed and the command
    ends with 128 + the signal's number (130, 143), as a shell reports it. A second signal ends the process at once,
    and so does the end of ``grace_seconds``: a report to a server that does not answer never holds it (``timeout``
    and systemd send SIGTERM to the whole process group, Prefect's own server included).
    """
    received: list[int] = []

    def handler(signum: int, frame) -> None:
        if received:
            os._exit(128 + signum)
        received.append(signum)
        deadline = threading.Timer(grace_seconds, os._exit, args=(128 + signum,))
        deadline.daemon = True
        deadline.start()
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except Stopped as exc:
        err.print(error_line(say(N_(
            "stopped by {signal}; work done so far is kept (finished pages are cached, a claimed batch stays "
            "claimed): run the command again to go on"), signal=str(exc))), highlight=False, soft_wrap=True)
        raise typer.Exit(128 + exc.signum) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


GENERIC_ACCOUNTS = frozenset({"root", "nobody", "daemon", "dossier", "admin", "administrator", "user"})


def operator(given: str | None = None) -> str:
    """The named person who runs this command (``--by``), else the login name of the account it runs as (never a
    variable: USER can say anything), for the audit log; refused (exit 2) without a person's name."""
    import pwd

    name = (given or "").strip()
    if not name:
        try:
            name = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            name = ""
        if name.lower() in GENERIC_ACCOUNTS:
            name = ""
        else:
            name = f"cli:{name}" if name else ""
    if not name:
        stop(ExitCode.USAGE, say(N_("name the person who does this: --by <name> (the account {account} names "
                                    "nobody)"), account=_account()))
    return name


def command_actor() -> str:
    """The account that runs an administrator's command, for the audit log (``cli:<login name>``)."""
    return f"cli:{_account()}"


def _account() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())

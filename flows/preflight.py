"""The machine check: what must work before `dossier watch`, `process`, `rerun`, `reprocess` and `make up` take any
work — the signing key, the object store, the rooms file, the standard profile(s), the access database and the
state disk — in well under a second; and the same check, again and again, while the watcher runs (a part that goes
down holds the work, which goes on by itself once it is back).

Each part is checked by its own area's function (``pipeline.dossier.require_signing_key``, the store's ``ping``, …);
this module only runs them with short timeouts and says which part failed, in the people's words, with the exit code
of its kind (8: configuration, 5: unavailable).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from pipeline.errors import DossierError, ExitCode, StoreError, explain, machine_fault, part_words
from pipeline.messages import N_, say
from pipeline.operations import HotFolder, MachineProblem, load_rooms_file
from pipeline.settings import Settings, StateLayout

PROBE_SECONDS = 1.0
"""How long the store and the database may take to answer the check."""

MIN_FREE_BYTES = 64 * 1024 * 1024
"""Free space the state disk must have for work to be taken (caches, work folders, the ledger)."""

PARTS = ("settings", "key", "profile", "rooms", "store", "database", "disk")

_UNAVAILABLE_CODES = {"store": ExitCode.UNAVAILABLE, "database": ExitCode.UNAVAILABLE, "disk": ExitCode.UNAVAILABLE}


class MachineNotReady(DossierError):
    """A part of the machine cannot be used: no work is taken until it is fixed."""

    def __init__(self, problem: MachineProblem):
        super().__init__(problem.message)
        self.problem = problem
        self.said = problem.message
        self.exit_code = _UNAVAILABLE_CODES.get(problem.part, ExitCode.CONFIGURATION)
        self.unavailable = problem.part


def _problem(exc: BaseException, part: str) -> MachineProblem:
    return MachineProblem(machine_fault(exc) or part, explain(exc))


def check_key(settings: Settings, profile: str | None) -> None:
    """The signing key (or the development key, when asked for) can be used by a run of ``profile``."""
    from pipeline.archival import require_signer
    from pipeline.standard import load_profile

    require_signer(settings.signing, load_profile(profile).signing.enabled)


def check_store(settings: Settings, home: Path) -> None:
    """The object store answers an authenticated request within PROBE_SECONDS."""
    from pipeline.storage import ObjectStore, StoreConfig

    config = StoreConfig.from_settings(settings.store, home)
    quick = dataclasses.replace(config, timeout=PROBE_SECONDS, connect_timeout=PROBE_SECONDS, retries=0)
    if not ObjectStore(quick, pool_size=1).ping():
        raise StoreError(f"the object store at {config.endpoint} (bucket {config.bucket}) did not answer within "
                         f"{PROBE_SECONDS:g} s")


def check_database(settings: Settings, layout: StateLayout) -> None:
    """The access database can be reached: the SQLite file's folder is writable, or the server answers."""
    url = settings.access.database_url(layout)
    if url.startswith("sqlite"):
        folder = Path(url.split("///", 1)[-1]).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise DatabaseUnavailable(f"the access database's folder {folder} cannot be written")
        return
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                                          connect_args={"connect_timeout": max(1, int(PROBE_SECONDS))})
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - every driver error means the same here
        host = sqlalchemy.engine.make_url(url).host
        raise DatabaseUnavailable(f"the access database at {host} did not answer: {type(exc).__name__}") from None


def check_disk(layout: StateLayout) -> None:
    """The state folder can be written and its disk has room for the work."""
    free = shutil.disk_usage(layout.root).free
    if free < MIN_FREE_BYTES:
        raise OSError(28, f"the state disk of {layout.root} has {free // (1024 * 1024)} MiB free (needs "
                          f"{MIN_FREE_BYTES // (1024 * 1024)} MiB)")
    if not os.access(layout.root, os.W_OK):
        raise OSError(30, f"the state folder {layout.root} cannot be written")


def check_rooms(rooms: Path, hotfolder: Path | None) -> list[str | None]:
    """The rooms file (outside the hot folder) and the profile of each room bound in it; returns those profiles."""
    if hotfolder is not None:
        HotFolder(hotfolder, rooms)  # refuses a rooms file inside the hot folder
    bound = load_rooms_file(rooms)
    return sorted({binding.profile for binding in bound.rooms.values()}, key=str)


class DatabaseUnavailable(DossierError):
    """The access database did not answer."""

    exit_code = ExitCode.UNAVAILABLE
    unavailable = "database"


def machine_problems(settings: Settings, home: Path, *, profile: str | None = None, rooms: Path | None = None,
                     hotfolder: Path | None = None, signing: bool = True, database: bool = True,
                     store: bool = True) -> list[MachineProblem]:
    """Every part of the machine that cannot be used now (an empty list: ready)."""
    from pipeline.standard import load_profile

    layout = StateLayout(Path(home))
    found: list[MachineProblem] = []
    profiles: list[str | None] = [profile]

    def attempt(part: str, check, *args) -> object:
        try:
            return check(*args)
        except Exception as exc:  # noqa: BLE001 - every failure is a part of the machine not ready
            found.append(_problem(exc, part))
            return None

    if rooms is not None:
        profiles += attempt("rooms", check_rooms, rooms, hotfolder) or []
    for name in dict.fromkeys(profiles):
        attempt("profile", load_profile, name)
    if signing:
        attempt("key", check_key, settings, profile)
    attempt("disk", check_disk, layout)
    if store:
        attempt("store", check_store, settings, layout.root)
    if database:
        attempt("database", check_database, settings, layout)
    return found


def require_machine(settings: Settings, home: Path, **what) -> float:
    """Refuse to take work when a part of the machine is not ready (MachineNotReady with the exit code of the
    first problem); returns the seconds the check took."""
    started = time.monotonic()
    problems = machine_problems(settings, home, **what)
    if problems:
        first = problems[0]
        others = say(N_("; ")).join(part_words(p.part) for p in problems[1:])
        raise MachineNotReady(MachineProblem(first.part, first.message + (
            say(N_(" (also not ready: {parts})"), parts=others) if others else "")))
    return time.monotonic() - started


def rooms_file_of(settings: Settings, layout: StateLayout) -> Path:
    """The administrator's rooms file: DOSSIER_ROOMS_FILE, else ``rooms.yaml`` in the state folder."""
    return settings.operations.rooms_file or layout.rooms_file


def watcher_check(settings: Settings, home: Path, rooms: Path, hotfolder: Path):
    """The check a running watcher repeats: the first problem, or None when the machine is ready."""
    def check() -> MachineProblem | None:
        problems = machine_problems(settings, home, rooms=rooms, hotfolder=hotfolder)
        return problems[0] if problems else None

    return check

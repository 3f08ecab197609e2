"""The operators' desk running for tests: the service over a state folder (the ledger, the runs' records, the page
cache), the session's store, its own access database, and the people of the desk — an operator of room-1, one of
room-2, a desk administrator, and a clerk who has no place at the desk (password PASSWORD for all)."""

from __future__ import annotations

import contextlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.access import Database, UserStore, create_app, read_audit
from pipeline.access.desk import DeskSources
from pipeline.dossier import load_review_sheet, page_file
from pipeline.settings import StateLayout
from tests.access_fixtures import PASSWORD
from tests.ops_fixtures import AGENCY
from tests.store_fixtures import serve_in_thread

# person: (roles, rooms, display name)
DESK_PEOPLE = {
    "op1": (("operator",), ("room-1",), "李扫描"),
    "op2": (("operator",), ("room-2",), "王扫描"),
    "boss": (("ops-admin",), (), "赵管理"),
    "clerk": (("clerk",), (), "钱内勤"),
}


@dataclass
class DeskService:
    url: str
    app: object
    db: Database
    store: object
    audit_prefix: str
    state: Path

    def entries(self, action_prefix: str = "desk.") -> list[dict]:
        """This service's audit entries of desk actions."""
        self.app.state.audit.flush()
        return [e for e in read_audit(self.store, self.audit_prefix) if str(e.get("action", "")).startswith(
            action_prefix)]

    def user_id(self, person: str) -> int:
        return UserStore(self.db).get(person).id


@contextlib.contextmanager
def desk_service(embedded_store, state: Path, tmp: Path, orchestrator=None, hotfolders: tuple[Path, ...] = (),
                 rooms_file: Path | None = None):
    """The service with the desk over ``state``; yields a :class:`DeskService`."""
    db = Database.open(f"sqlite:///{tmp / f'desk-{secrets.token_hex(3)}.db'}")
    users = UserStore(db)
    for name, (roles, rooms, display) in DESK_PEOPLE.items():
        users.create(name, PASSWORD, AGENCY, roles, display, rooms=rooms)
    prefix = f"system/audit-desk-{secrets.token_hex(4)}/"
    sources = DeskSources(home=state, orchestrator=orchestrator, hotfolders=hotfolders, rooms_file=rooms_file)
    app = create_app(embedded_store.config, database=db, cache_ttl=0, manifest_ttl=0, audit_prefix=prefix,
                     sweep_seconds=3600, operations=sources)
    try:
        with serve_in_thread(app) as url:
            yield DeskService(url, app, db, embedded_store.store(), prefix, state)
    finally:
        db.dispose()


@dataclass(frozen=True)
class CropCheck:
    """How a crop served beside a field compares with its page: the mean grey difference from the region the review
    sheet names (``same``) and from as large a region at the top of the same page (``elsewhere``)."""

    position: int
    box: tuple[int, int, int, int]
    file: str
    same: float
    elsewhere: float
    ink: float  # share of dark pixels in the crop: print, not blank paper


def check_crop(png: bytes, state: Path, folder: Path, volume: int, seq: int, field: str) -> CropCheck:
    """Compare the crop served for row ``seq``'s ``field`` with the page region the run's review sheet (in the work
    ``folder``) names, read from the page cache the pipeline wrote."""
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    sheet = load_review_sheet(folder, volume)
    region = sheet.regions[seq][field]
    page = sheet.pages[region.position]
    with Image.open(page_file(StateLayout(state).page_cache, page.key, page.grey or page.image)) as img:
        grey = img.convert("L")

    def looks(box) -> np.ndarray:
        return np.asarray(grey.crop(box).resize(shown.shape[::-1], Image.Resampling.LANCZOS), dtype=float)

    x0, y0, x1, y1 = region.box
    return CropCheck(region.position, tuple(region.box), page.file, float(np.abs(looks(region.box) - shown).mean()),
                     float(np.abs(looks((x0, 0, x1, y1 - y0)) - shown).mean()), float((shown < 128).mean()))


@dataclass
class RoomsState:
    """A state folder and hot folder whose ledger the real intake wrote (see :func:`rooms_state`); the batches by
    what became of them."""

    state: Path
    hot: Path
    rooms_file: Path
    case_no: str
    batches: dict[str, str]  # what became of it -> room-1 batch name


def rooms_state(base: Path, case_no: str) -> RoomsState:
    """Batches of room-1 taken by the real intake (the in-test submitter of test_hotfolder.py standing in for
    Prefect): one published after a requeue (its case's history has every kind of try), one refused at the door for a
    file that is not a scan (bad input), one refused because the room may not publish its case number, one whose run
    was cancelled, one held while the object store is down, and one waiting in the room (no watcher runs)."""
    from pipeline.operations import HotFolder, Intake, Ledger, MachineProblem, requeue
    from tests.ops_fixtures import make_batch, write_rooms
    from tests.test_hotfolder import ServerLike, drive

    hot, state = base / "hot", base / "state"
    (hot / "room-1").mkdir(parents=True)
    (hot / "room-1" / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    rooms_file = write_rooms(base / "admin" / "rooms.yaml", ("room-1",), case_numbers=(r"\(2024\).*",))

    def through(batch: str, server: ServerLike, case: str = case_no, spoil=None) -> Intake:
        folder = make_batch(hot / "room-1" / batch, case)
        if spoil:
            spoil(folder)
        (folder / "READY").write_bytes(b"")
        intake = Intake(HotFolder(hot, rooms_file), Ledger(state), server, log=lambda m: None, retry_seconds=0.0,
                        status_seconds=0.0)
        drive(intake, server)
        return intake

    server = ServerLike(ok=False, message="Cancelled by 管理员")
    intake = through("b-published", server)
    requeue(Ledger(state), hot, "room-1", "b-published", "李管理员")
    server.ok = True
    drive(intake, server)
    through("b-bad-input", ServerLike(), spoil=lambda f: (f / "002.jpg").write_bytes(b""))
    through("b-not-allowed", ServerLike(), case="（2023）豫0727刑初9号")
    through("b-cancelled", ServerLike(ok=False, message="Cancelled by 管理员"), case=case_no.replace("号", "1号"))
    store_down: list[MachineProblem] = []
    dying = ServerLike(ok=False, message="Crashed", retryable=True)
    make_batch(hot / "room-1" / "b-held", case_no.replace("号", "2号"), marker=True)
    intake = Intake(HotFolder(hot, rooms_file), Ledger(state), dying, log=lambda m: None, retry_seconds=0.0,
                    status_seconds=0.0, check_machine=lambda: store_down[0] if store_down else None,
                    machine_seconds=0.0)
    intake.tick(full_scan=True)  # claimed and submitted while the machine is ready
    store_down.append(MachineProblem("store", "connection refused"))
    dying.finish_all()
    intake.tick(full_scan=True)  # its run dies while the store is down: held
    make_batch(hot / "room-1" / "b-waiting", case_no.replace("号", "3号"), marker=True)
    return RoomsState(state, hot, rooms_file, case_no, {
        "published": "b-published", "bad-input": "b-bad-input", "not-allowed": "b-not-allowed",
        "cancelled": "b-cancelled", "held": "b-held", "waiting": "b-waiting"})

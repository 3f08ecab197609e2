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

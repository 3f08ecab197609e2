"""The operators' desk running for tests: the service over a state folder (the ledger, the runs' records, the page
cache), the session's store, its own access database, and the people of the desk — an operator of room-1, one of
room-2, a desk administrator, and a clerk who has no place at the desk (password PASSWORD for all)."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipeline.access import Database, UserStore, create_app, read_audit
from pipeline.access.desk import DeskSources
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

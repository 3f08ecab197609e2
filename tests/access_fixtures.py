"""The requesters' side running for tests: a service (API and pages) over the session's SeaweedFS and a fresh
access database, agencies with their people and tokens, a clock tests can move, and published cases.

- ``MovableClock``: the real time plus an offset that ``advance(days=…)`` moves (access expiry is decided by it).
- ``RequestService``: ``url``, ``app``, ``db``, ``store``, ``clock``, ``tokens[person]`` and helpers to call the API
  as a person, read this service's audit entries, and publish a case.
- ``request_service`` (function, on SQLite and PostgreSQL): the service with the people of ``PEOPLE``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from pipeline.access import Database, GrantStore, TokenStore, UserStore, create_app, read_audit
from pipeline.common import utcnow
from pipeline.storage import ObjectStore, publish_dossier
from tests.store_fixtures import make_dossier, serve_in_thread

REQUESTER, HOLDER, OTHER = "新封县人民检察院", "新封县人民法院", "开封市公安局"
DEPARTMENT = "第一检察部"
PASSWORD = "correct horse battery"
# person: (agency, roles, department, display name)
PEOPLE = {
    "clerk": (REQUESTER, ("clerk",), DEPARTMENT, "李内勤"),
    "clerk2": (REQUESTER, ("clerk",), DEPARTMENT, "赵内勤"),
    "head": (REQUESTER, ("reviewer",), DEPARTMENT, "王主任"),
    "head2": (REQUESTER, ("reviewer",), DEPARTMENT, "钱主任"),
    "other_head": (REQUESTER, ("reviewer",), "第二检察部", "孙主任"),
    "deputy": (REQUESTER, ("approver",), "", "张副检察长"),
    "deputy2": (REQUESTER, ("approver",), "", "冯副检察长"),
    "head_deputy": (REQUESTER, ("reviewer", "approver"), DEPARTMENT, "褚领导"),
    "clerk_head": (REQUESTER, ("clerk", "reviewer", "approver"), DEPARTMENT, "周全能"),
    "admin": (REQUESTER, ("admin",), "", "吴管理员"),
    "registrar": (HOLDER, ("registrar",), "案件管理办公室", "陈案管"),
    "registrar2": (HOLDER, ("registrar",), "案件管理办公室", "郑案管"),
    "stranger": (OTHER, ("clerk", "reviewer", "approver", "registrar"), "", "外单位"),
    "reader": (REQUESTER, (), "", ""),
}


class MovableClock:
    """Now, plus an offset the test moves."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@dataclass
class RequestService:
    url: str
    app: object
    db: Database
    store: ObjectStore
    audit_prefix: str
    clock: MovableClock
    tmp: Path
    tokens: dict = field(default_factory=dict)

    def call(self, person: str, method: str, path: str, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[person]}"} if person else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=180, **kw)

    def file(self, person: str = "clerk", case_no: str | None = None, **fields) -> httpx.Response:
        body = {"case_no": case_no or fields.pop("case", None), "holding_agency": HOLDER,
                "legal_basis": "《中华人民共和国刑事诉讼法》第一百七十六条", "reason": "审查起诉需要调阅原审卷宗",
                "department": DEPARTMENT, "days": 30, "contact": "李内勤 0371-1234567", **fields}
        return self.call(person, "POST", "/requests", json=body)

    def act(self, person: str, request_id: int, action: str, comment: str = "") -> httpx.Response:
        return self.call(person, "POST", f"/requests/{request_id}/actions", json={"action": action,
                                                                                 "comment": comment})

    def released(self, case_no: str, **fields) -> int:
        """A request for the case taken through every step to release; its id."""
        r = self.file(case_no=case_no, **fields)
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
        for person, action in (("head", "review"), ("deputy", "approve"), ("registrar", "release")):
            step = self.act(person, request_id, action)
            assert step.status_code == 200, step.text
        return request_id

    def entries(self) -> list[dict]:
        self.app.state.audit.flush()
        return list(read_audit(self.store, self.audit_prefix))

    def steps(self, request_id: int | None = None) -> list[dict]:
        return [e for e in self.entries() if e.get("action", "").startswith("request.")
                and e.get("action") != "request.void" and (request_id is None or e.get("request_id") == request_id)]

    def publish(self, case_no: str, agency: str = HOLDER, volumes: int = 2, catalogue: bool = True,
                grants: tuple[str, ...] = ()):
        """Publish a fake dossier as the publishing run does: its owner recorded first (none for ``agency=""``)."""
        folder = self.tmp / secrets.token_hex(4)
        manifest, out, originals = make_dossier(folder, case_no, volumes=volumes, agency=agency, grants=grants)
        if catalogue:
            write_catalogue(out, case_no, volumes)
        publish_as_pipeline(self.db, self.store, manifest, out, originals)
        return manifest


def publish_as_pipeline(db: Database, store: ObjectStore, manifest, out: Path, originals):
    """What the publishing run does (flows.publication): record the case's owner in the access database — unless
    the manifest names none — then publish, dossier.json last; what publish_dossier returns."""
    if manifest.agency:
        GrantStore(db, cache_ttl=0).claim(manifest.case_no, manifest.agency, by="test publication")
    return publish_dossier(store, manifest, out, originals)


def write_catalogue(out: Path, case_no: str, volumes: int) -> None:
    """A realistic 卷内目录 for the fake dossier (make_dossier's is empty)."""
    titles = [("新封检一部刑诉〔2024〕172号", "新封县人民检察院", "起诉书", "2024-03-02"),
              ("", "新封县公安局", "询问笔录（张某某）", "2024-01-15"),
              ("", "新封县公安局", "扣押决定书", "2024-01-16"),
              ("（2024）豫0727刑初172号", "新封县人民法院", "刑事判决书", "2024-06-20")]
    cat = {"schema_version": "1", "case_no": case_no, "volumes": [
        {"volume": n, "entries": [{"seq": i + 1, "doc_no": d, "author": a, "title": f"{t}", "date": day,
                                   "first_page": 1 + 4 * i, "last_page": 4 + 4 * i, "remark": "", "continued": False,
                                   "document": i, "flags": []} for i, (d, a, t, day) in enumerate(titles)]}
        for n in range(1, volumes + 1)]}
    (out / "catalogue.json").write_text(json.dumps(cat, ensure_ascii=False), encoding="utf-8")


def make_people(db: Database, clock, users: bool = False) -> dict[str, str]:
    """A token for every person of PEOPLE (with ``users``: a user with password PASSWORD too, the token acting as
    them); returns the tokens."""
    user_store, tokens = UserStore(db), TokenStore(db, clock=clock)
    found = {}
    for name, (agency, roles, department, display) in PEOPLE.items():
        if users:
            user_store.create(name, PASSWORD, agency, roles, display, department)
        found[name] = tokens.create(agency, label=display or name, roles=roles, username=name if users else None)[0]
    return found


def copy_signer(embedded_store):
    """The key a test service certifies the copies it serves with: the session store's development key."""
    from pipeline.archival import ensure_development_signer

    return ensure_development_signer(embedded_store.state_dir / "signing")


def start_service(embedded_store, db: Database, tmp: Path, **options):
    """A context manager: the service over the session store and ``db``, its own audit prefix; yields the base URL
    and the app."""
    prefix = f"system/audit-req-{secrets.token_hex(4)}/"
    app = create_app(embedded_store.config, database=db, cache_ttl=0, manifest_ttl=0, audit_prefix=prefix,
                     copy_signer=copy_signer(embedded_store), **options)
    return prefix, app, serve_in_thread(app)


@pytest.fixture
def request_service(embedded_store, database, tmp_path):
    clock = MovableClock()
    tokens = make_people(database, clock)
    prefix, app, server = start_service(embedded_store, database, tmp_path, clock=clock, sweep_seconds=3600)
    with server as url:
        yield RequestService(url, app, database, embedded_store.store(), prefix, clock, tmp_path, tokens)


@pytest.fixture(scope="module")
def web_service(embedded_store, tmp_path_factory):
    """The service on its own SQLite database with every person of PEOPLE as a user (password PASSWORD), shared
    by a module's tests (signing up users costs a slow hash each)."""
    tmp = tmp_path_factory.mktemp("web")
    db = Database.open(f"sqlite:///{tmp / 'access.db'}")
    clock = MovableClock()
    tokens = make_people(db, clock, users=True)
    prefix, app, server = start_service(embedded_store, db, tmp, clock=clock, sweep_seconds=3600)
    try:
        with server as url:
            yield RequestService(url, app, db, embedded_store.store(), prefix, clock, tmp, tokens)
    finally:
        db.dispose()


def enc(case_no: str) -> str:
    return quote(case_no, safe="")

"""The API fuzzed from its own OpenAPI schema with Schemathesis, against a real service (uvicorn, the session's
SeaweedFS, an SQLite access database) holding published dossiers and a 调卷函 in every state, called with real tokens
of every role. Used by ``tests/test_api_fuzz.py`` (a few hundred requests) and ``bench/fuzz_api.py`` (thousands).

Every generated request is checked for: no 5xx; an answer the schema declares (status code, content type, headers,
body); and, for every request naming a case or a request, **no existence leak**: the same request is sent again
naming a case that exists but the caller's agency may not read, and a case that does not exist (or a request of
another agency and one that does not exist): the two answers must be identical (status, body, content type).
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.access import Database, TokenStore, UserStore, create_app
from pipeline.search import open_index
from pipeline.storage import load_manifest
from tests.access_fixtures import (
    HOLDER,
    OTHER,
    PASSWORD,
    PEOPLE,
    REQUESTER,
    copy_signer,
    publish_as_pipeline,
    write_catalogue,
)
from tests.store_fixtures import make_dossier, serve_in_thread, unique_case_no

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
CALLERS = ("clerk", "head", "deputy", "registrar", "admin", "reader", "stranger", "-invalid-", "-none-")
"""Who calls: people of :data:`tests.access_fixtures.PEOPLE` with their tokens, a malformed token, no token."""
SOURCES = {caller: f"10.0.0.{n}" for n, caller in enumerate(CALLERS, 1)}
"""Each caller's address (``X-Forwarded-For``, trusted from loopback as behind a proxy): the one sending random
tokens is braked (429), the others are not."""


def _headers(caller: str, token: str | None) -> dict[str, str]:
    return {"X-Forwarded-For": SOURCES.get(caller, "10.0.1.1"),
            **({"Authorization": f"Bearer {token}"} if token else {})}


@dataclass
class World:
    """The running service and what is in it."""

    url: str
    app: object
    tokens: dict[str, str]
    readable: str  # published by HOLDER, released to REQUESTER by a 调卷函
    hidden: str  # published by OTHER: exists, REQUESTER may not read it
    missing: str  # never published
    requests: tuple[int, ...]  # every request filed: released (REQUESTER→HOLDER), filed (REQUESTER→OTHER, OTHER→HOLDER)
    unseen: dict[str, int]  # per caller, a request that exists but the caller may not see


@dataclass
class Tally:
    """What a fuzzing run did and found."""

    requests: int = 0
    cases: int = 0
    leak_pairs: int = 0
    by_operation: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if len(self.failures) < 200:
            self.failures.append(what)


def _people(db: Database) -> dict[str, str]:
    users, tokens = UserStore(db), TokenStore(db)
    found = {}
    for name in ("clerk", "head", "deputy", "registrar", "admin", "reader", "stranger"):
        agency, roles, department, display = PEOPLE[name]
        users.create(name, PASSWORD, agency, roles, display, department)
        found[name] = tokens.create(agency, label=name, roles=roles, username=name)[0]
    other_clerk = tokens.create(OTHER, label="other clerk", roles=("clerk",))[0]
    found["-invalid-"] = "dos_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)
    return found | {"-other-clerk-": other_clerk}


def _publish(db: Database, store, tmp: Path, case_no: str, agency: str) -> None:
    manifest, out, originals = make_dossier(tmp / secrets.token_hex(4), case_no, volumes=2, agency=agency)
    write_catalogue(out, case_no, 2)
    publish_as_pipeline(db, store, manifest, out, originals)


def _call(url: str, token: str | None, method: str, path: str, caller: str = "", **kw) -> httpx.Response:
    return httpx.request(method, url + path, headers=_headers(caller, token), timeout=60, **kw)


def _file(url: str, token: str, case_no: str, holding: str) -> int:
    r = _call(url, token, "POST", "/requests", json={
        "case_no": case_no, "holding_agency": holding, "legal_basis": "《中华人民共和国刑事诉讼法》第一百七十六条",
        "reason": "审查起诉需要调阅原审卷宗", "department": "第一检察部", "days": 30, "contact": "李内勤 0371-1234567"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def start_world(embedded_store, tmp: Path):
    """A context manager: the service with its people, dossiers and requests; yields a :class:`World`."""
    import contextlib

    @contextlib.contextmanager
    def running():
        store = embedded_store.store()
        db = Database.open(f"sqlite:///{tmp / 'access.db'}")
        tokens = _people(db)
        readable, hidden, missing = unique_case_no(), unique_case_no(), unique_case_no()
        _publish(db, store, tmp, readable, HOLDER)
        _publish(db, store, tmp, hidden, OTHER)
        index = open_index("tantivy", tmp / "search-index")
        for case_no in (readable, hidden):
            ref = load_manifest(store, case_no)
            index.index_dossier(ref.manifest, None, [], ref.version_id or "")
        app = create_app(embedded_store.config, database=db, cache_ttl=0, manifest_ttl=0, sweep_seconds=3600,
                         audit_prefix=f"system/audit-fuzz-{secrets.token_hex(4)}/", search=index,
                         copy_signer=copy_signer(embedded_store))
        try:
            with serve_in_thread(app) as url:
                released = _file(url, tokens["clerk"], readable, HOLDER)
                for person, action in (("head", "review"), ("deputy", "approve"), ("registrar", "release")):
                    step = _call(url, tokens[person], "POST", f"/requests/{released}/actions",
                                 json={"action": action, "comment": "同意"})
                    assert step.status_code == 200, step.text
                own = _file(url, tokens["clerk"], hidden, OTHER)
                foreign = _file(url, tokens.pop("-other-clerk-"), readable, HOLDER)
                filed = (released, own, foreign)
                unseen = {}
                for caller, token in tokens.items():
                    hidden_ids = [i for i in filed if _call(url, token, "GET", f"/requests/{i}").status_code == 404]
                    if hidden_ids and not caller.startswith("-"):
                        unseen[caller] = hidden_ids[0]
                yield World(url, app, tokens, readable, hidden, missing, filed, unseen)
        finally:
            index.close()
            db.dispose()

    return running()


def _same_answer(a: httpx.Response, b: httpx.Response, swap: tuple[str, str] = ("", "")) -> bool:
    """True when two answers cannot be told apart (the request id in a detail aside)."""
    def masked(text: str, request_id: str) -> str:  # the id as a whole number only: not the 2 of "at most 2000"
        return re.sub(rf"(?<!\d){re.escape(request_id)}(?!\d)", "#", text) if request_id else text

    body_a, body_b = masked(a.text, swap[0]), masked(b.text, swap[1])
    return (a.status_code, a.headers.get("content-type"), body_a) == (b.status_code, b.headers.get("content-type"),
                                                                      body_b)


def _leak_check(world: World, tally: Tally, case, caller: str, response: httpx.Response) -> None:
    """Send the request again naming an unreadable existing case (or request) and a missing one: same answer."""
    params = dict(case.path_parameters or {})
    token = world.tokens.get(caller)
    swap = ("", "")
    if caller not in PEOPLE:  # no valid token: answered 401 (or 429, braked) before any case is looked at
        return
    query = dict(case.query or {})
    if "case_no" in params or isinstance(query.get("case"), str):
        # a case the caller's agency neither owns nor was granted, and one never published (in the path, or as the
        # search's case filter)
        agency = PEOPLE[caller][0]
        unreadable = [world.readable] if agency not in (REQUESTER, HOLDER) else []
        unreadable += [world.hidden] if agency != OTHER else []
        pairs = [(case_no, world.missing) for case_no in unreadable]
    elif "request_id" in params and caller in world.unseen:
        pairs = [(world.unseen[caller], 10 ** 9)]
        swap = (str(world.unseen[caller]), str(10 ** 9))
    else:
        return
    for existing, absent in pairs:
        answers = []
        for value in (existing, absent):
            asked = {**query, "case": value} if "case" in query and "case_no" not in params else case.query
            answers.append(_call(world.url, token, case.method, _path_with(case, value), caller,
                                 params=asked or None,
                                 json=case.body if isinstance(case.body, (dict, list)) else None))
            tally.requests += 1
        tally.leak_pairs += 1
        if not _same_answer(*answers, swap=swap):
            tally.fail(f"existence leak: {case.method} {case.path} as {caller}: {answers[0].status_code} "
                       f"{answers[0].text[:120]!r} vs {answers[1].status_code} {answers[1].text[:120]!r}")


def _path_with(case, value) -> str:
    from urllib.parse import quote

    path = case.path
    for name, given in (case.path_parameters or {}).items():
        replacement = value if name in ("case_no", "request_id") else given
        path = path.replace("{" + name + "}", quote(str(replacement), safe=""))
    return path


def fuzz(world: World, per_operation: int, seed: int = 0) -> Tally:
    """Draw ``per_operation`` cases per operation and generation mode (positive, negative) from the schema of the
    running service, send each as a rotating caller, run the checks; returns the tally."""
    schema = schemathesis.openapi.from_url(f"{world.url}/openapi.json")
    tally = Tally()
    callers = itertools.cycle(CALLERS)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        names = {p.name for p in operation.iter_parameters() if p.location == "path"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            overrides: list[dict] = [{}]
            if mode == GenerationMode.POSITIVE and "case_no" in names:  # real cases, not only random strings
                overrides += [{"case_no": world.readable}, {"case_no": world.hidden}]
            if mode == GenerationMode.POSITIVE and "request_id" in names:
                overrides += [{"request_id": i} for i in world.requests]
            for override in overrides:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=override or None)

                @settings(max_examples=max(1, per_operation // len(overrides)), deadline=None, database=None,
                          phases=[Phase.generate], derandomize=True,
                          suppress_health_check=list(HealthCheck))
                @hypothesis.given(strategy)
                def one(case):
                    caller = next(callers)
                    token = world.tokens.get(caller)
                    headers = _headers(caller, token)
                    response = case.call(base_url=world.url, headers=headers, timeout=60)
                    tally.requests += 1
                    tally.cases += 1
                    tally.by_operation[case.operation.label] += 1
                    tally.statuses[response.status_code] += 1
                    try:
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is reported
                        tally.fail(f"{case.operation.label} as {caller}: {type(exc).__name__}: {str(exc)[:400]}")
                    _leak_check(world, tally, case, caller, response)

                try:
                    one()
                except hypothesis.errors.Unsatisfiable:  # e.g. no invalid input exists for GET /health
                    tally.unsatisfiable.append(f"{operation.label} {mode.value}")
    return tally

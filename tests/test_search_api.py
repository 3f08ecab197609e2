"""``GET /search`` on a running service: scoped by the access rules of the moment, audited, and telling nothing of
cases the caller may not read — on SQLite with the Tantivy index, and on PostgreSQL 15 with the index in it."""

from __future__ import annotations

import pytest
from search_fixtures import make_case, renumbered

from pipeline.access._search import TIME_QUANTUM, held_for
from pipeline.search import open_index
from tests.access_fixtures import HOLDER, OTHER, REQUESTER, MovableClock, RequestService, make_people, start_service
from tests.store_fixtures import unique_case_no


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("built"), "（2024）豫0727刑初41号", HOLDER, seed=41, pages=4)


@pytest.fixture
def service(embedded_store, database, tmp_path):
    """The service with every person's token and a search index on the database's kind (auto)."""
    url = database.url if database.dialect == "postgresql" else ""
    index = open_index("auto", tmp_path / "index", url)
    assert index.backend.name == ("postgresql" if url else "tantivy")
    clock = MovableClock()
    tokens = make_people(database, clock)
    prefix, app, server = start_service(embedded_store, database, tmp_path, clock=clock, sweep_seconds=3600,
                                        search=index)
    with server as base:
        svc = RequestService(base, app, database, embedded_store.store(), prefix, clock, tmp_path, tokens)
        svc.index = index
        yield svc
    index.close()


def publish(service, built, agency: str = HOLDER):
    case = renumbered(built, unique_case_no(), agency)
    version = case.publish(service.store, service.db)
    service.index.index_dossier(case.manifest, case.catalogue, case.volumes, version or "")
    return case


def search(service, person: str, q: str, **params):
    r = service.call(person, "GET", "/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()


def cases_in(answer: dict) -> set[str]:
    return {h["case_no"] for h in answer["hits"]}


def test_the_holding_agency_finds_a_name_in_its_own_dossier_with_page_snippet_and_boxes(service, built):
    case = publish(service, built)
    name = built.facts.defendant
    answer = search(service, "registrar", name)
    assert answer["total"] > 0 and cases_in(answer) == {case.manifest.case_no}
    page_hit = next(h for h in answer["hits"] if h["source"] == "page")
    assert "".join(p["text"] for p in page_hit["snippet"] if p["hit"]).startswith(name)
    assert page_hit["volume"] == 1 and page_hit["page"] >= 1 and page_hit["title"]
    assert len(page_hit["boxes"][0]) == len(name) and all(0 <= v <= 1 for b in page_hit["boxes"][0] for v in b)


def test_a_dossier_released_to_agency_b_is_found_by_b_only_while_the_release_lasts(service, built):
    case = publish(service, built)
    name = built.facts.victim
    assert search(service, "clerk", name)["total"] == 0  # the requesting agency before the release
    service.released(case.manifest.case_no, days=10)
    assert cases_in(search(service, "clerk", name)) == {case.manifest.case_no}
    assert search(service, "stranger", name)["total"] == 0  # another agency still finds nothing
    service.clock.advance(days=11)
    assert search(service, "clerk", name)["total"] == 0


def test_another_agencys_dossier_is_never_found_and_the_answer_is_that_of_no_dossier(service, built):
    hidden = publish(service, built, agency=OTHER)
    name = built.facts.officer
    with_hidden = service.call("clerk", "GET", "/search", params={"q": name, "case": hidden.manifest.case_no})
    without = service.call("clerk", "GET", "/search", params={"q": name, "case": unique_case_no()})
    assert with_hidden.status_code == without.status_code == 200
    assert with_hidden.json() == without.json() == {"query": name, "total": 0, "hits": []}
    assert search(service, "clerk", name)["total"] == 0


def test_every_search_is_audited_with_who_the_query_and_how_many_hits(service, built):
    publish(service, built)
    answer = search(service, "registrar", built.facts.clerk)
    entries = [e for e in service.entries() if e.get("action") == "search"]
    assert entries[-1]["search"] == built.facts.clerk and entries[-1]["hits"] == answer["total"] > 0
    assert entries[-1]["agency"] == HOLDER and entries[-1]["actor"] != "-"
    search(service, "clerk", "无此内容的检索词")
    last = [e for e in service.entries() if e.get("action") == "search"][-1]
    assert (last["agency"], last["hits"], last["search"]) == (REQUESTER, 0, "无此内容的检索词")


def test_a_search_without_a_token_is_refused_and_a_bad_filter_is_a_clear_400(service):
    assert service.call("", "GET", "/search", params={"q": "张三"}).status_code == 401
    bad = service.call("clerk", "GET", "/search", params={"q": "张三", "date_from": "2024/01/01"})
    assert bad.status_code == 400 and "date_from" in bad.json()["detail"]


def test_an_answer_is_held_to_the_next_multiple_of_the_time_quantum():
    assert held_for(0.012) == pytest.approx(TIME_QUANTUM - 0.012)
    assert held_for(TIME_QUANTUM + 0.001) == pytest.approx(TIME_QUANTUM - 0.001)
    assert held_for(0.5, quantum=0.25) == 0.0

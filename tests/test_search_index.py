"""The search index on both backends (Tantivy in a folder, PostgreSQL 15), over volumes with real text layers."""

from __future__ import annotations

import re

import pytest
from search_fixtures import make_case

from pipeline.assembly import numbered_pages
from pipeline.search import CaseGrant, Entry, Filters, Scope, open_index
from pipeline.storage import case_key

COURT, PROCURATORATE = "河南省封丘县人民法院", "河南省封丘县人民检察院"
EVERYTHING = Scope(everything=True)


@pytest.fixture(params=["tantivy", pytest.param("postgresql", marks=pytest.mark.postgres)])
def index(request, tmp_path):
    url = request.getfixturevalue("postgres").new_database() if request.param == "postgresql" else ""
    idx = open_index(request.param, tmp_path / "index", url)
    yield idx
    idx.close()


@pytest.fixture(scope="module")
def case_file(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("case"), "（2024）豫0727刑初31号", COURT, seed=31, pages=8, max_pages=5)


@pytest.fixture(scope="module")
def other_case(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("other"), "（2024）豫0727刑初32号", PROCURATORATE, seed=32, pages=4)


def pages_found(index, query: str, scope: Scope = EVERYTHING, **filters) -> set[tuple[str, int, int]]:
    results = index.search(query, scope, Filters(**filters), limit=100)
    return {(h.entry.case_key, h.entry.volume, h.entry.page) for h in results.hits if h.entry.source == "page"}


def shown_on(case, text: str) -> set[tuple[str, int, int]]:
    """Pages whose drawn text contains ``text``."""
    return {(case.manifest.case_key, v, p) for (v, p), lines in case.lines.items() if text in "".join(lines)}


def add(index, case) -> None:
    index.index_dossier(case.manifest, case.catalogue, case.volumes, "v1")


def test_every_sentence_of_a_generated_case_file_is_found_on_its_page(index, case_file):
    add(index, case_file)
    checked = 0
    for (volume, page), lines in case_file.lines.items():
        for sentence in re.split(r"[。？！]", "".join(lines)):
            if len(sentence) < 2:
                continue
            found = pages_found(index, sentence, case_key=case_file.manifest.case_key)
            assert (case_file.manifest.case_key, volume, page) in found, (volume, page, sentence)
            checked += 1
    assert checked > 30 and len({v for v, _ in case_file.lines}) == 2  # two volumes, many sentences


def test_a_two_character_name_is_found_on_every_page_that_shows_it_and_only_there(index, case_file, other_case):
    add(index, case_file)
    add(index, other_case)
    f = case_file.facts
    names = {n[:2] for n in (f.defendant, f.victim, f.officer, f.clerk)}
    for name in names:
        expected = shown_on(case_file, name) | shown_on(other_case, name)
        assert expected, name
        assert pages_found(index, name) == expected, name


def test_a_single_character_is_found_wherever_it_is_printed(index, case_file):
    add(index, case_file)
    assert pages_found(index, "盗") == shown_on(case_file, "盗")


def test_case_numbers_plates_and_id_numbers_are_found_as_printed_in_any_width(index, tmp_path):
    text = "扣押车辆车牌号豫A12345，车主身份证号码41072719900101123X，封检公诉刑诉〔2024〕74号"
    entry = Entry(uid="k/original/page/1/1", case_no="（2024）豫0727刑初1号", case_key="k", owner=COURT,
                  copy="original", source="page", volume=1, page=1, title="扣押物品清单", date="2024-01-02", text=text)
    index.backend.replace_case("k", [entry])
    for query in ("豫A12345", "豫Ａ１２３４５", "a12345", "41072719900101123x", "〔2024〕74号", "(2024)74号", "刑诉〔2024〕"):
        assert [h.entry.uid for h in index.search(query, EVERYTHING).hits] == ["k/original/page/1/1"], query
    for query in ("豫A12346", "〔2024〕75号", "豫B12345"):
        assert index.search(query, EVERYTHING).total == 0, query


def test_every_part_of_a_query_must_be_on_the_page(index, case_file):
    add(index, case_file)
    name = case_file.facts.defendant
    with_name = shown_on(case_file, name)
    word = next(w for w in ("谅解", "投案", "户籍", "撬锁", "证据", "本院", "罪")
                if with_name & shown_on(case_file, w) and with_name - shown_on(case_file, w))
    assert pages_found(index, f"{name} {word}") == with_name & shown_on(case_file, word)


def test_the_snippet_marks_the_hit_and_the_boxes_are_the_text_layers(index, case_file):
    add(index, case_file)
    name = case_file.facts.victim
    hit = index.search(name, EVERYTHING, Filters(case_key=case_file.manifest.case_key)).hits[0]
    assert [t for t, marked in hit.snippet if marked][0] == name
    opened = index.open_hit(hit.entry.uid, name, EVERYTHING)
    volume = dict(case_file.volumes)[hit.entry.volume]
    page = next(p for p in numbered_pages(volume) if p.number == hit.entry.page)
    text = page.text
    start = text.index(name)
    chars = [c for line in page.lines for c in line]
    flat = text.replace("\n", "")
    first = chars[flat.index(name)]
    box = opened.boxes[0][0]
    assert len(opened.boxes) == text.count(name) and len(opened.boxes[0]) == len(name) and start >= 0
    assert box == pytest.approx((first.x0 / page.width, first.y0 / page.height, first.x1 / page.width,
                                 first.y1 / page.height), abs=1e-4)


def test_a_republished_dossier_replaces_what_the_index_held_of_its_case(index, case_file, other_case):
    add(index, case_file)
    key, name = case_file.manifest.case_key, case_file.facts.defendant
    assert pages_found(index, name, case_key=key)
    superseding = other_case.manifest.model_copy(update={"case_no": case_file.manifest.case_no, "case_key": key})
    index.index_dossier(superseding, other_case.catalogue, other_case.volumes, "v2")

    def now_shown(text: str) -> set:
        return {(key, v, p) for (_, v, p) in shown_on(other_case, text)}

    assert pages_found(index, name, case_key=key) == now_shown(name)
    assert pages_found(index, other_case.facts.victim, case_key=key) == now_shown(other_case.facts.victim) != set()


def test_a_voided_dossier_disappears_from_every_search(index, case_file, other_case):
    add(index, case_file)
    add(index, other_case)
    index.drop_case(case_file.manifest.case_key)
    assert not any(k == case_file.manifest.case_key for k, _, _ in pages_found(index, "被告人"))
    assert index.search(case_file.manifest.case_no, EVERYTHING).total == 0
    assert pages_found(index, "被告人")  # the other case is still there


def test_an_agency_finds_its_own_dossiers_and_released_ones_only(index, case_file, other_case):
    add(index, case_file)
    add(index, other_case)
    own, released = case_file.manifest.case_key, other_case.manifest.case_key
    court = {k for k, _, _ in pages_found(index, "被告人", Scope(owner=COURT))}
    assert court == {own}
    with_release = {k for k, _, _ in pages_found(index, "被告人", Scope(owner=COURT, grants=(CaseGrant(released),)))}
    assert with_release == {own, released}
    stranger = Scope(owner="开封市公安局")
    assert index.search("被告人", stranger).total == 0 and index.search(case_file.facts.defendant, stranger).hits == ()


def test_a_release_of_some_volumes_finds_only_those_volumes(index, case_file):
    add(index, case_file)
    scope = Scope(owner="开封市公安局", grants=(CaseGrant(case_file.manifest.case_key, frozenset({2})),))
    assert {v for _, v, _ in pages_found(index, "被告人", scope)} == {2}


def test_a_disclosure_only_release_never_finds_the_original_text(index, case_file):
    add(index, case_file)
    scope = Scope(owner="某律师事务所", grants=(CaseGrant(case_file.manifest.case_key, copy="disclosure"),))
    assert index.search(case_file.facts.defendant, scope).total == 0
    hit = index.search(case_file.facts.defendant, EVERYTHING).hits[0]
    assert index.open_hit(hit.entry.uid, case_file.facts.defendant, scope) is None


def test_a_disclosure_only_release_finds_the_disclosure_copy_and_the_owner_its_original(index, case_file, other_case):
    add(index, case_file)
    # a stand-in for a disclosure copy: other pages indexed as the case's copy of a disclosure profile
    index.index_dossier(case_file.manifest, other_case.catalogue, other_case.volumes, "d1", copy="disclosure/lawyer")
    key, name = case_file.manifest.case_key, other_case.facts.victim
    lawyer = Scope(owner="某律师事务所", grants=(CaseGrant(key, copy="disclosure"),))
    disclosed = {(v, p) for (_, v, p) in pages_found(index, name, lawyer)}
    assert disclosed == {(v, p) for (_, v, p) in shown_on(other_case, name)} != set()
    assert pages_found(index, case_file.facts.defendant, lawyer) == set()  # only in the original
    assert {(v, p) for (_, v, p) in pages_found(index, name, Scope(owner=COURT))} == \
        {(v, p) for (_, v, p) in shown_on(case_file, name)}  # the owner searches its original
    add(index, case_file)  # a republished original replaces every copy made from the one before
    assert pages_found(index, name, lawyer) == set()


def test_a_hit_outside_the_scope_cannot_be_opened_and_looks_like_no_hit(index, case_file):
    add(index, case_file)
    hit = index.search(case_file.facts.defendant, EVERYTHING).hits[0]
    assert index.open_hit(hit.entry.uid, case_file.facts.defendant, Scope(owner="开封市公安局")) is None
    assert index.open_hit("no/such/page/1/1", case_file.facts.defendant, Scope(owner="开封市公安局")) is None


def test_filters_narrow_by_case_document_title_and_date(index, case_file, other_case):
    add(index, case_file)
    add(index, other_case)
    key = case_file.manifest.case_key
    assert {k for k, _, _ in pages_found(index, "被告人", case_key=key)} == {key}
    titled = index.search("问", EVERYTHING, Filters(title="询问笔录"), limit=100).hits
    assert titled and {h.entry.title for h in titled} == {"询问笔录"}
    assert index.search("问", EVERYTHING, Filters(title="询问"), limit=100).total == len(titled)
    assert index.search("问", EVERYTHING, Filters(title="笔录"), limit=100).total == 0
    assert index.search("被告人", EVERYTHING, Filters(date_from=20240301, date_to=20240331)).total > 0
    assert index.search("被告人", EVERYTHING, Filters(date_from=20250101)).total == 0


def test_the_catalogue_and_the_case_facts_are_found(index, case_file):
    add(index, case_file)
    results = index.search(case_file.manifest.case_no, EVERYTHING, limit=100)
    assert {"case", "catalogue"} <= {h.entry.source for h in results.hits}
    assert case_key(case_file.manifest.case_no) == case_file.manifest.case_key

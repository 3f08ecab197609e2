"""Who may read a case is decided by the access database alone, on SQLite and PostgreSQL: the owner recorded there at
the case's first publication, and grants made there. A ``dossier.json`` rewritten with the bucket credential — a new
owner, extra grants — changes nothing; an owner-less dossier is released to nobody; a registrar cannot tell another
agency's case from one that does not exist."""

from __future__ import annotations

import json

import pytest

from pipeline.access import Database, GrantStore
from pipeline.errors import BadInputError, RefusedError
from pipeline.storage import dossier_prefix, normalise_case_no, publish_dossier
from tests.access_fixtures import HOLDER, OTHER, REQUESTER, enc
from tests.store_fixtures import make_dossier, unique_case_no


def rewrite_manifest(svc, case_no: str, **changes) -> None:
    """What anyone holding the bucket credential can do: write a new version of dossier.json."""
    key = dossier_prefix(case_no) + "dossier.json"
    manifest = json.loads(svc.store.get_bytes(key))
    manifest.update(changes)
    svc.store.put_bytes(key, json.dumps(manifest, ensure_ascii=False).encode("utf-8"), "application/json")


def through_approval(svc, case_no: str, holding_agency: str = HOLDER) -> int:
    """A request filed and approved at the requesting agency, waiting for the holding agency's registrar."""
    filed = svc.file(case_no=case_no, holding_agency=holding_agency)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    for person, action in (("head", "review"), ("deputy", "approve")):
        assert svc.act(person, request_id, action).status_code == 200
    return request_id


def test_an_agency_a_rewritten_manifest_grants_reads_nothing(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no, agency=HOLDER)
    rewrite_manifest(svc, case_no, grants=[REQUESTER])
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 403
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 403


def test_a_manifest_rewritten_with_another_owner_moves_no_access(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no, agency=HOLDER)
    rewrite_manifest(svc, case_no, agency=REQUESTER)
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 403
    assert svc.call("registrar", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 200


def test_a_manifest_grant_published_with_the_dossier_gives_no_access(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no, agency=HOLDER, grants=(REQUESTER,))
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 403


def test_a_case_first_published_by_one_agency_is_refused_to_another_without_naming_the_first(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no, agency=HOLDER)
    with pytest.raises(RefusedError) as refused:
        GrantStore(svc.db).claim(case_no, OTHER)
    assert "another agency" in str(refused.value) and HOLDER not in str(refused.value)
    assert GrantStore(svc.db).get(case_no, cached=False).owner == HOLDER


def test_a_publication_without_an_owning_agency_is_refused(request_service):
    with pytest.raises(BadInputError, match="without an owning agency"):
        GrantStore(request_service.db).claim(unique_case_no(), "  ")


def test_an_owner_less_dossier_is_released_to_nobody(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no, agency="")  # as `dossier process` without batch.json published before: agency ""
    request_id = through_approval(svc, case_no, holding_agency=OTHER)  # the requester names any agency as holder
    released = svc.act("stranger", request_id, "release")  # that agency's registrar releases it
    assert released.status_code == 200 and released.json()["state"] == "waiting"
    svc.app.state.desk.sweep()
    assert svc.call("clerk", "GET", f"/requests/{request_id}").json()["state"] == "waiting"
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 403


def test_a_registrar_gets_the_same_answer_for_another_agencys_case_as_for_a_missing_one(request_service):
    svc = request_service
    held_elsewhere, missing = unique_case_no(), unique_case_no()
    svc.publish(held_elsewhere, agency=OTHER)
    answers = []
    for case_no in (held_elsewhere, missing):
        request_id = through_approval(svc, case_no)
        r = svc.act("registrar", request_id, "release")
        body = {k: v for k, v in r.json().items() if k not in ("id", "case_no", "filed_at", "updated_at",
                                                                "reviewed_at", "approved_at", "decided_at")}
        answers.append((r.status_code, body, request_id))
    assert answers[0][:2] == answers[1][:2] and answers[0][0] == 200 and answers[0][1]["state"] == "waiting"
    assert OTHER not in json.dumps(answers[0][1], ensure_ascii=False)
    svc.app.state.desk.sweep()  # and later: the request for the case held elsewhere is not refused, it waits
    states = [svc.call("clerk", "GET", f"/requests/{request_id}").json()["state"] for *_, request_id in answers]
    assert states == ["waiting", "waiting"]
    assert svc.call("clerk", "GET", f"/dossiers/{enc(held_elsewhere)}").status_code == 403


def test_the_owners_of_dossiers_published_before_are_taken_over_once_from_the_store(db_url, embedded_store,
                                                                                    tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, agency=HOLDER)
    publish_dossier(store, manifest, out, originals)  # published by a version that kept the owner in dossier.json
    db = Database.open(db_url, store=store)
    try:
        assert GrantStore(db).get(case_no, cached=False).owner == HOLDER
        moved, out2, originals2 = make_dossier(tmp_path / "again", case_no, agency=OTHER, label="v2")
        publish_dossier(store, moved, out2, originals2)  # a manifest written later names another agency
        db.upgrade(store)
        assert GrantStore(db).get(normalise_case_no(case_no), cached=False).owner == HOLDER
    finally:
        db.dispose()

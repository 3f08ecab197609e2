"""The 调卷 procedure through the request API, on SQLite and on PostgreSQL: filed → reviewed → approved → released,
access that ends by itself, every step audited with the request's id before it takes effect."""


from pipeline.access import UserStore
from pipeline.storage import ObjectStore, StoreConfig, normalise_case_no
from tests.access_fixtures import DEPARTMENT, HOLDER, PASSWORD, REQUESTER, enc
from tests.store_fixtures import unique_case_no


def history(svc, request_id, person="clerk"):
    r = svc.call(person, "GET", f"/requests/{request_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_request_goes_from_filing_to_release_and_then_the_clerk_reads_the_case(request_service):
    svc, case_no = request_service, unique_case_no()
    manifest = svc.publish(case_no)
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 403
    filed = svc.file(case_no=case_no)
    assert filed.status_code == 201 and filed.json()["state"] == "filed"
    request_id = filed.json()["id"]
    states = [svc.act(p, request_id, a, f"同意 {a}").json()["state"]
              for p, a in (("head", "review"), ("deputy", "approve"), ("registrar", "release"))]
    assert states == ["reviewed", "approved", "released"]
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 200
    volume = svc.call("clerk2", "GET", f"/dossiers/{enc(case_no)}/volumes/2")  # the agency reads, not only the clerk
    assert volume.headers["x-copy-source-sha256"] == manifest.volumes[1].sha256  # a copy marked for its reader
    assert [e["step"] for e in history(svc, request_id)["history"]] == ["filed", "reviewed", "approved", "released",
                                                                        "fetched"]


def test_every_step_is_in_the_audit_log_with_the_request_id_who_and_the_comment(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    request_id = svc.released(case_no)
    steps = svc.steps(request_id)
    assert [(e["step"], e["from"], e["to"]) for e in steps] == [
        ("filed", None, "filed"), ("reviewed", "filed", "reviewed"), ("approved", "reviewed", "approved"),
        ("released", "approved", "released")]
    assert [e["agency"] for e in steps] == [REQUESTER, REQUESTER, REQUESTER, HOLDER]
    assert all(e["case_no"] == normalise_case_no(case_no) for e in steps)
    recorded = history(svc, request_id)["history"]
    assert [f"{e['stream']}#{e['seq']}" for e in steps] == [e["audit_ref"] for e in recorded]


def test_access_ends_by_itself_at_the_expiry_date_and_the_end_is_recorded(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    request_id = svc.released(case_no, days=3)
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 200
    svc.clock.advance(days=3, seconds=1)
    expired = svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}")
    assert expired.status_code == 403 and expired.json()["error"] == "forbidden"
    assert svc.app.state.desk.sweep() == (0, 1)
    assert history(svc, request_id)["state"] == "expired"
    assert [e["step"] for e in svc.steps(request_id)][-1] == "expired"
    assert svc.app.state.desk.sweep() == (0, 0)


def test_the_first_volume_read_records_the_fetched_step_once(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    request_id = svc.released(case_no)
    svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}")  # the manifest is not a fetch
    assert history(svc, request_id)["state"] == "released"
    for n in (1, 2, 1):
        assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/{n}").status_code == 200
    assert [e["step"] for e in svc.steps(request_id)].count("fetched") == 1
    volume_reads = [e for e in svc.entries() if e.get("action") == "volume" and e.get("case_no") == normalise_case_no(
        case_no)]
    assert len(volume_reads) == 3 and all(e["request_id"] == [request_id] for e in volume_reads)


def test_each_step_needs_its_role_at_the_right_agency(request_service):
    svc, case_no = request_service, unique_case_no()
    request_id = svc.file(case_no=case_no).json()["id"]
    assert svc.act("clerk2", request_id, "review").status_code == 403  # a clerk does not review
    assert svc.act("deputy", request_id, "review").status_code == 403  # nor does the approver
    assert svc.act("registrar", request_id, "review").status_code == 404  # the holder sees nothing before approval
    assert svc.act("stranger", request_id, "review").status_code == 404  # another agency sees nothing at all
    assert svc.file("head", case_no=case_no).status_code == 403  # only clerks file
    assert svc.act("head", request_id, "review").status_code == 200
    assert svc.act("head_deputy", request_id, "approve").status_code == 200
    assert svc.act("deputy", request_id, "release").status_code == 403  # released by the holder's registrar only
    assert history(svc, request_id)["state"] == "approved"


def test_nobody_takes_a_step_on_their_own_request(request_service):
    svc = request_service
    request_id = svc.file("clerk_head", case_no=unique_case_no()).json()["id"]
    r = svc.act("clerk_head", request_id, "review")
    assert r.status_code == 403 and "own request" in r.json()["detail"]
    assert history(svc, request_id)["state"] == "filed"


def test_one_person_does_not_take_two_steps_on_the_same_request(request_service):
    svc = request_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    assert svc.act("head_deputy", request_id, "review").status_code == 200
    r = svc.act("head_deputy", request_id, "approve")
    assert r.status_code == 403 and "already took a step" in r.json()["detail"]


def test_a_second_token_of_the_same_person_is_still_that_person(request_service):
    svc = request_service
    UserStore(svc.db).create("liu", PASSWORD, REQUESTER, ("clerk", "reviewer"), "刘某", DEPARTMENT)
    tokens = svc.app.state.tokens
    svc.tokens["liu_clerk"] = tokens.create(REQUESTER, roles=("clerk",), username="liu")[0]
    svc.tokens["liu_head"] = tokens.create(REQUESTER, roles=("reviewer",), username="liu")[0]
    request_id = svc.file("liu_clerk", case_no=unique_case_no()).json()["id"]
    assert svc.act("liu_head", request_id, "review").status_code == 403


def test_a_token_acting_for_a_user_loses_the_roles_the_user_loses(request_service):
    svc = request_service
    UserStore(svc.db).create("demoted", PASSWORD, REQUESTER, ("reviewer", "approver"), "冯主任", DEPARTMENT)
    svc.tokens["demoted"] = svc.app.state.tokens.create(REQUESTER, roles=("reviewer", "approver"),
                                                        username="demoted")[0]
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    assert [i["id"] for i in svc.call("demoted", "GET", "/requests/inbox").json()] == [request_id]
    UserStore(svc.db).set_roles("demoted", ("approver",))  # no longer a department head
    assert svc.call("demoted", "GET", "/requests/inbox").json() == []
    refused = svc.act("demoted", request_id, "review")
    assert refused.status_code == 403 and "reviewer" in refused.json()["detail"]
    assert svc.act("head", request_id, "review").status_code == 200
    assert svc.act("demoted", request_id, "approve").status_code == 200  # the role the user kept still works


def test_a_reviewer_reviews_only_the_requests_of_their_department(request_service):
    svc = request_service
    UserStore(svc.db).create("sun", PASSWORD, REQUESTER, ("reviewer",), "孙主任", "第二检察部")
    svc.tokens["sun"] = svc.app.state.tokens.create(REQUESTER, roles=("reviewer",), username="sun")[0]
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    assert svc.act("sun", request_id, "review").status_code == 403
    assert svc.call("sun", "GET", "/requests/inbox").json() == []


def test_a_refusal_needs_a_reason_and_ends_the_request(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    request_id = svc.file(case_no=case_no).json()["id"]
    svc.act("head", request_id, "review")
    assert svc.act("deputy", request_id, "refuse").status_code == 400
    refused = svc.act("deputy", request_id, "refuse", "依据不充分")
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    assert svc.act("deputy2", request_id, "approve").status_code == 409
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 403
    last = history(svc, request_id)["history"][-1]
    assert (last["step"], last["comment"], last["actor_name"]) == ("refused", "依据不充分", "张副检察长")


def test_steps_out_of_order_or_taken_twice_are_refused_as_conflicts(request_service):
    svc = request_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    assert svc.act("deputy", request_id, "approve").status_code == 409  # not reviewed yet
    assert svc.act("head", request_id, "review").status_code == 200
    assert svc.act("head2", request_id, "review").status_code == 409  # reviewed already
    assert [e["step"] for e in svc.steps(request_id)] == ["filed", "reviewed"]


def test_a_request_for_an_unpublished_case_waits_and_is_released_when_the_dossier_appears(request_service):
    svc, case_no = request_service, unique_case_no()
    request_id = svc.file(case_no=case_no).json()["id"]
    svc.act("head", request_id, "review")
    svc.act("deputy", request_id, "approve")
    decided = svc.act("registrar", request_id, "release", "卷宗扫描中，发布后放行")
    assert decided.json()["state"] == "waiting" and decided.json()["expires_at"] is None
    assert svc.app.state.desk.sweep() == (0, 0)
    svc.publish(case_no)
    assert svc.app.state.desk.sweep() == (1, 0)
    shown = history(svc, request_id)
    assert shown["state"] == "released" and shown["expires_at"] is not None
    assert [(e["step"], e["actor"]) for e in shown["history"][-2:]] == [("waiting", shown["history"][-2]["actor"]),
                                                                        ("released", "system")]
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 200


def test_only_the_volumes_asked_for_are_released(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    svc.released(case_no, volumes=[2])
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 403
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/2").status_code == 200


def test_another_agency_cannot_tell_a_request_exists(request_service):
    svc = request_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    existing = svc.call("stranger", "GET", f"/requests/{request_id}")
    missing = svc.call("stranger", "GET", f"/requests/{request_id + 10_000}")
    assert existing.status_code == missing.status_code == 404
    assert existing.json()["detail"].replace(str(request_id), "N") == missing.json()["detail"].replace(
        str(request_id + 10_000), "N")
    assert svc.call("stranger", "GET", "/requests/inbox").json() == []


def test_the_inbox_shows_each_role_what_waits_for_it(request_service):
    svc = request_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]

    def waiting(person):
        return {r["id"]: r["actions"] for r in svc.call(person, "GET", "/requests/inbox").json()}

    assert waiting("head")[request_id] == ["review", "refuse"] and request_id not in waiting("deputy")
    svc.act("head", request_id, "review")
    assert request_id not in waiting("head") and waiting("deputy")[request_id] == ["approve", "refuse"]
    assert request_id not in waiting("registrar")
    svc.act("deputy", request_id, "approve")
    assert waiting("registrar")[request_id] == ["release", "refuse"]
    assert request_id not in waiting("stranger")


def test_a_clerk_lists_their_own_requests_and_an_admin_all_of_the_agency(request_service):
    svc = request_service
    mine = svc.file("clerk", case_no=unique_case_no()).json()["id"]
    theirs = svc.file("clerk2", case_no=unique_case_no()).json()["id"]
    listed = {r["id"] for r in svc.call("clerk", "GET", "/requests").json()}
    assert mine in listed and theirs not in listed
    everyone = {r["id"] for r in svc.call("admin", "GET", "/requests", params={"all": "true"}).json()}
    assert {mine, theirs} <= everyone
    assert svc.call("clerk", "GET", "/requests", params={"all": "true"}).status_code == 403


def test_bad_filings_are_refused_with_the_field_named(request_service):
    svc = request_service
    assert svc.file(case_no="刑初号").status_code == 400
    blank = svc.file(case_no=unique_case_no(), reason="   ")
    assert blank.status_code == 400 and "reason" in blank.json()["detail"]
    assert svc.file(case_no=unique_case_no(), days=0).status_code == 400
    own = svc.file(case_no=unique_case_no(), holding_agency=REQUESTER)
    assert own.status_code == 400 and "own agency" in own.json()["detail"]


def test_a_step_whose_audit_entry_cannot_be_stored_does_not_happen(request_service):
    svc = request_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    audit = svc.app.state.audit
    audit.store = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0,
                                          timeout=1))
    try:
        r = svc.act("head", request_id, "review")
    finally:
        audit.store = svc.store
    assert r.status_code == 503
    assert history(svc, request_id)["state"] == "filed"
    entries = svc.entries()  # the announced step reaches the log later, followed by its voiding
    announced = [e for e in entries if e.get("action") == "request.reviewed" and e.get("request_id") == request_id]
    voided = {e["voids"] for e in entries if e.get("action") == "request.void"}
    assert len(announced) == 1 and announced[0]["hash"] in voided
    assert svc.act("head", request_id, "review").status_code == 200


def test_openapi_documents_the_request_endpoints(request_service):
    spec = request_service.call(None, "GET", "/openapi.json").json()
    assert {"/requests", "/requests/inbox", "/requests/{request_id}", "/requests/{request_id}/actions"} <= set(
        spec["paths"])
    assert "409" in spec["paths"]["/requests/{request_id}/actions"]["post"]["responses"]

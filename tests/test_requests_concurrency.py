"""Many people acting at once, on SQLite and PostgreSQL: no lost update, every state change audited exactly once,
impossible transitions refused."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.access import TokenStore
from tests.access_fixtures import REQUESTER
from tests.store_fixtures import unique_case_no


def at_once(calls):
    """Run the calls from as many threads, released together; their responses in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=60)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def effective_steps(svc, request_id):
    """Steps in the audit log for the request, less any the log itself voids."""
    entries = svc.entries()
    voided = {e["voids"] for e in entries if e.get("action") == "request.void"}
    return [e["step"] for e in entries if e.get("request_id") == request_id and e.get("action", "").startswith(
        "request.") and e.get("action") != "request.void" and e["hash"] not in voided]


def recorded_steps(svc, request_id):
    return [e["step"] for e in svc.call("clerk", "GET", f"/requests/{request_id}").json()["history"]]


@pytest.mark.slow  # 50 s at load 20
def test_fifty_concurrent_steps_on_different_requests_all_happen_each_audited_once(request_service):
    svc = request_service
    filed = at_once([lambda: svc.file(case_no=unique_case_no()) for _ in range(50)])
    assert [r.status_code for r in filed] == [201] * 50
    ids = [r.json()["id"] for r in filed]
    assert len(set(ids)) == 50
    reviewed = at_once([lambda i=i: svc.act("head", i, "review") for i in ids])
    assert [r.status_code for r in reviewed] == [200] * 50
    entries = svc.entries()
    steps = Counter((e["request_id"], e["step"]) for e in entries if e.get("action") in ("request.filed",
                                                                                          "request.reviewed"))
    assert all(steps[(i, "filed")] == 1 and steps[(i, "reviewed")] == 1 for i in ids)
    assert not [e for e in entries if e.get("action") == "request.void"]
    assert {tuple(recorded_steps(svc, i)) for i in ids} == {("filed", "reviewed")}


def test_twenty_concurrent_steps_on_one_request_exactly_one_wins(request_service):
    svc = request_service
    tokens = TokenStore(svc.db)
    for n in range(20):
        svc.tokens[f"reviewer{n}"] = tokens.create(REQUESTER, label=f"审核人{n}", roles=("reviewer",))[0]
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    answers = at_once([lambda n=n: svc.act(f"reviewer{n}", request_id, ("review", "refuse")[n % 2], "意见")
                       for n in range(20)])
    assert [r.status_code for r in answers].count(200) == 1
    winner = next(r.json() for r in answers if r.status_code == 200)
    # after a review, a reviewer's refusal is the approver's step (403); every other loser finds the step taken (409)
    losers = Counter((n % 2, r.status_code) for n, r in enumerate(answers) if r.status_code != 200)
    assert set(losers) <= {(0, 409), (1, 409), (1, 403)} and (winner["state"] == "reviewed" or (1, 403) not in losers)
    assert recorded_steps(svc, request_id) == ["filed", {"reviewed": "reviewed", "refused": "refused"}[
        winner["state"]]]
    assert effective_steps(svc, request_id) == recorded_steps(svc, request_id)


def test_racing_reviews_and_approvals_never_skip_a_step(request_service):
    svc = request_service
    tokens = TokenStore(svc.db)
    for n in range(10):
        svc.tokens[f"r{n}"] = tokens.create(REQUESTER, label=f"审核人{n}", roles=("reviewer",))[0]
        svc.tokens[f"a{n}"] = tokens.create(REQUESTER, label=f"审批人{n}", roles=("approver",))[0]
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    calls = [lambda n=n: svc.act(f"a{n}", request_id, "approve") for n in range(10)]
    calls += [lambda n=n: svc.act(f"r{n}", request_id, "review") for n in range(10)]
    answers = at_once(calls)
    approvals, reviews = answers[:10], answers[10:]
    assert [r.status_code for r in reviews].count(200) == 1
    assert [r.status_code for r in approvals].count(200) <= 1
    assert all(r.status_code == 409 for r in answers if r.status_code != 200)
    steps = recorded_steps(svc, request_id)
    assert steps in (["filed", "reviewed"], ["filed", "reviewed", "approved"])
    assert effective_steps(svc, request_id) == steps

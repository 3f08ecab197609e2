"""The fetch and request APIs fuzzed from their OpenAPI schema (Schemathesis) against a real service with published
dossiers, called with real tokens of every role: no 5xx, nothing outside the schema, no case's or request's existence
told to an agency that may not see it. The long run (thousands of requests) is ``bench/fuzz_api.py``."""

from __future__ import annotations

import pytest

from tests.fuzz_harness import fuzz, start_world
from tests.store_fixtures import unique_case_no


@pytest.mark.slow  # hundreds of requests through a running service (77 s at load 30)
def test_a_few_hundred_generated_requests_find_no_server_error_no_schema_violation_and_no_existence_leak(
        embedded_store, tmp_path):
    with start_world(embedded_store, tmp_path) as world:
        tally = fuzz(world, per_operation=6)
    assert tally.failures == []
    assert tally.requests >= 250 and tally.leak_pairs >= 50
    assert len(tally.by_operation) == 15  # every operation: /health, 6 dossier, 2 disclosure, /search, 5 request
    assert {200, 400, 401, 403, 404} <= set(tally.statuses)


def test_acting_on_another_agencys_request_answers_exactly_as_acting_on_none(request_service):
    filed = request_service.file(case_no=unique_case_no())
    assert filed.status_code == 201
    existing = filed.json()["id"]
    seen = request_service.act("stranger", existing, "review")
    absent = request_service.act("stranger", 10 ** 9, "review")
    assert seen.status_code == absent.status_code == 404
    assert seen.json()["detail"].replace(str(existing), "#") == absent.json()["detail"].replace(str(10 ** 9), "#")


def test_a_request_number_larger_than_any_id_is_a_clear_error_not_a_server_error(request_service):
    # found by bench/fuzz_api.py: the id went to the database, which cannot hold it (500)
    huge = 3551249975134490984448
    api = request_service.call("clerk", "GET", f"/requests/{huge}")
    assert api.status_code == 400 and api.json()["error"] == "bad-request"
    assert request_service.call("clerk", "POST", f"/requests/{2**31}/actions",
                                json={"action": "review"}).status_code == 400

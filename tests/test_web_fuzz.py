"""The web pages and forms fuzzed (tests/web_fuzz.py) against a real service with published dossiers and 调卷函,
as signed-in people of every role and anonymously: no 5xx, no dropped connection, only pages, redirects to our own
pages or volumes, and a case look-up that cannot tell an unreadable case from a missing one. The long run is
``bench/fuzz_api.py``."""

from __future__ import annotations

import pytest

from tests.fuzz_harness import start_world
from tests.web_fuzz import fuzz_web


@pytest.mark.slow  # hundreds of form posts through a running service
def test_a_few_hundred_generated_form_posts_and_page_requests_find_no_server_error_and_no_leak(embedded_store,
                                                                                              tmp_path):
    with start_world(embedded_store, tmp_path) as world:
        tally = fuzz_web(world, per_form=30)
    assert tally.failures == []
    assert tally.requests >= 270 and tally.leak_pairs >= 5
    assert len(tally.by_form) == 11  # ten forms and pages, and the look-up compared
    assert {200, 303, 400, 404} <= set(tally.statuses)


def test_a_volume_list_of_superscripts_or_circled_numbers_is_a_clear_error(web_service):
    from tests.web_helpers import post_form, signed_in

    client = signed_in(web_service.url, "clerk")
    for volumes in ("²", "①", "١"):
        r = post_form(client, "/web/requests/new", "/web/requests", case_no="（2024）豫0727刑初172号",
                      holding_agency="新封县人民法院", department="第一检察部", legal_basis="刑事诉讼法第一百七十六条",
                      reason="审查起诉", contact="李 123", days="30", scope="some", volumes=volumes)
        assert r.status_code == 400 and "请填写要调阅的卷号" in r.text, (volumes, r.status_code)

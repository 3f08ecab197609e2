"""Guessing does not pay and hashing does not take the service down, against the real service and database: wrong
passwords brake the account and the address they come from (429 with Retry-After, no password hashed meanwhile,
even for the right one), random bearer tokens brake their address without a database look-up, and password checks
run two at a time off the shared thread pool, the rest turned away at once (503) when too many wait.

The brakes' clock is a counter the tests move, so that no test sleeps through a wait."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import event

from pipeline.access import Brake, Brakes, Database, TokenStore, UserStore
from pipeline.access._throttle import ACCOUNT, SIGN_IN_SOURCE, TOKEN_SOURCE
from tests.access_fixtures import PASSWORD, start_service
from tests.web_helpers import csrf_of

pytestmark = pytest.mark.slow  # scrypt hashes by the dozen behind a running service: 9-27 s a test at load 20


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def braked(embedded_store, tmp_path):
    """A service with one user (``li``, password PASSWORD) whose brakes run on a clock the test moves."""
    db = Database.open(f"sqlite:///{tmp_path / 'access.db'}")
    UserStore(db).create("li", PASSWORD, "新封县人民检察院", ("clerk",), "李内勤")
    ticks = Ticks()
    brakes = Brakes(Brake(ACCOUNT, ticks), Brake(SIGN_IN_SOURCE, ticks), Brake(TOKEN_SOURCE, ticks))
    _, app, server = start_service(embedded_store, db, tmp_path, brakes=brakes, sweep_seconds=3600)
    with server as url:
        yield url, app, db, ticks
    db.dispose()


def sign_in(url: str, username: str, password: str, source: str = "10.1.0.1") -> httpx.Response:
    client = httpx.Client(base_url=url, timeout=60, headers={"X-Forwarded-For": source})
    token = csrf_of(client.get("/web/login").text)
    return client.post("/web/login", data={"csrf": token, "username": username, "password": password})


def test_after_five_wrong_passwords_even_the_right_one_waits_and_then_signs_in(braked):
    url, _, _, ticks = braked
    assert [sign_in(url, "li", f"wrong password {i}").status_code for i in range(5)] == [401] * 5
    assert sign_in(url, "li", "wrong password 5").status_code == 401  # the sixth is checked, and owes a wait
    refused = sign_in(url, "li", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "登录失败次数过多" in refused.text
    ticks.now += 1.0
    assert sign_in(url, "li", PASSWORD).status_code == 303


def test_waits_double_with_each_further_failure_up_to_five_minutes(braked):
    url, _, _, ticks = braked
    waits = []
    for i in range(16):
        r = sign_in(url, "li", f"wrong password {i}")
        if r.status_code == 429:
            waits.append(int(r.headers["retry-after"]))
            ticks.now += waits[-1]
            assert sign_in(url, "li", f"wrong password {i}").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]


def test_an_unknown_account_is_braked_exactly_as_a_known_one(braked):
    url, _, _, _ = braked
    known = [sign_in(url, "li", f"wrong {i}").status_code for i in range(7)]
    unknown = [sign_in(url, "nobody-here", f"wrong {i}").status_code for i in range(7)]
    assert known == unknown == [401] * 6 + [429]


def test_one_address_guessing_across_accounts_is_braked_and_others_are_not(braked):
    url, _, _, _ = braked
    statuses = [sign_in(url, f"user{i}", "wrong password", source="10.1.0.9").status_code for i in range(22)]
    assert statuses == [401] * 21 + [429]  # twenty are free, the 21st is checked and owes a wait
    assert sign_in(url, "li", PASSWORD, source="10.1.0.9").status_code == 429
    assert sign_in(url, "li", PASSWORD, source="10.1.0.10").status_code == 303


def test_random_bearer_tokens_brake_their_address_without_a_database_lookup(braked):
    url, _, db, _ = braked
    looked_up = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: looked_up.append(statement) if "tokens" in statement else None)

    def call(token: str, source: str) -> httpx.Response:
        return httpx.get(url + "/requests", timeout=60,
                         headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": source})

    def random_token() -> str:
        return f"dos_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"

    assert [call(random_token(), "10.2.0.1").status_code for _ in range(21)] == [401] * 21
    before = len(looked_up)
    braked_answer = call(random_token(), "10.2.0.1")
    assert braked_answer.status_code == 429 and int(braked_answer.headers["retry-after"]) >= 1
    assert len(looked_up) == before  # answered without looking the token up
    valid = TokenStore(db).create("新封县人民检察院", roles=("clerk",))[0]
    assert call(valid, "10.2.0.2").status_code == 200


def test_sixty_four_sign_ins_at_once_hash_two_at_a_time_and_the_overflow_is_turned_away(braked, monkeypatch):
    url, app, _, _ = braked
    users = app.state.users
    running, most, lock = [0], [0], threading.Lock()
    verify = users.verify

    def observed(username, password):  # the real check, counting how many run at once
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return verify(username, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(users, "verify", observed)
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(lambda i: sign_in(url, "li", PASSWORD, source=f"10.3.{i // 200}.{i % 200}"),
                                range(64)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {303, 503} and 303 in statuses
    assert all(r.headers.get("retry-after") == "1" for r in answers if r.status_code == 503)
    assert most[0] <= 2

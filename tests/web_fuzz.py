"""The web pages and forms fuzzed with Hypothesis against the same real service as the API fuzzer
(:mod:`tests.fuzz_harness`): every form (sign in, sign out, file a 调卷函, act on a request) and every page with a
query or path value (the case look-up, a volume, the request form pre-filled, a request, the inbox, sign-in's
``next``) gets generated values — any Unicode (², ①, full-width and other scripts' digits, controls, bidi marks,
thousands of characters), raw bytes that are not UTF-8, and numbers far out of range — sent by signed-in people of
every role with a valid CSRF token (so that the handlers run), and without one.

Every answer is checked: no 5xx and no dropped connection; a page is HTML with the pages' security headers; a
redirect goes to a page of ours; a volume is a PDF. A case look-up is sent again for a case that exists but the
person's agency may not read and for one that does not exist: the two pages must be the same but for the case
number. Used by ``tests/test_web_fuzz.py`` (a few hundred requests) and ``bench/fuzz_api.py --web`` (thousands).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, quote_from_bytes

import httpx
import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from pipeline.storage import normalise_case_no
from tests.access_fixtures import HOLDER, OTHER, PEOPLE, REQUESTER
from tests.web_helpers import csrf_of, signed_in

PERSONS = ("clerk", "head", "deputy", "registrar", "admin", "reader", "stranger")
"""Who signs in (people of :data:`tests.access_fixtures.PEOPLE`); anonymous callers are sent too."""

ODD = ["", " ", "²", "①", "１２", "٣", "0", "-1", "+5", "1_0", "1e3", "99999999999999999999999", "1" * 5000,
       "\u202e1\u202c", "\x00", "\ud7ff", "（2024）豫0727刑初172号", "/web/", "//evil.example/", "\\\\evil",
       "https://evil.example/", "<script>alert(1)</script>", "全部", "1、2，3;4", "${7*7}", "{{7*7}}"]
TEXT = st.one_of(st.sampled_from(ODD), st.text(st.characters(exclude_categories=("Cs",)), max_size=300))
RAW = st.binary(max_size=40)  # sent percent-encoded as they are: not necessarily UTF-8
DIGITISH = "0123456789０１２３４５６７８９¹²³⁴₅①②⑩⓵❶٣۴१๒௭፫ⅫⅣ〇½,、， "  # what str.isdigit or a clerk calls a digit
NUMBERS = st.one_of(st.text(st.sampled_from(DIGITISH), min_size=1, max_size=6),
                    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=12))


@dataclass
class WebTally:
    """What a web fuzzing run did and found."""

    requests: int = 0
    leak_pairs: int = 0
    by_form: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if len(self.failures) < 200:
            self.failures.append(what)


def _check(tally: WebTally, label: str, r: httpx.Response | Exception) -> None:
    """The answer is well-formed for a page, a redirect or a volume."""
    if isinstance(r, Exception):
        tally.fail(f"{label}: connection failed: {type(r).__name__}: {r}")
        return
    tally.statuses[r.status_code] += 1
    kind = r.headers.get("content-type", "")
    if r.status_code >= 500:
        tally.fail(f"{label}: {r.status_code} {r.text[:200]!r}")
    elif r.status_code in (302, 303, 307):
        target = r.headers.get("location", "")
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            tally.fail(f"{label}: redirect outside the service: {target!r}")
    elif kind.startswith("application/pdf"):
        pass
    elif not kind.startswith("text/html") and r.status_code != 429:
        tally.fail(f"{label}: {r.status_code} answered as {kind!r}")
    elif kind.startswith("text/html") and "frame-ancestors 'none'" not in r.headers.get("content-security-policy", ""):
        tally.fail(f"{label}: page without the pages' security headers")


def _send(client: httpx.Client, method: str, path: str, tally: WebTally, label: str, **kw) -> httpx.Response | None:
    tally.requests += 1
    tally.by_form[label] += 1
    try:
        r = client.request(method, path, **kw)
    except httpx.HTTPError as exc:
        _check(tally, label, exc)
        return None
    _check(tally, label, r)
    return r


def _raw_form(fields: dict[str, str | bytes]) -> bytes:
    """A form body with each value percent-encoded from its bytes (raw bytes stay as they are)."""
    parts = []
    for name, value in fields.items():
        data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        parts.append(f"{name}={quote_from_bytes(data, safe='')}")
    return "&".join(parts).encode("ascii")


def _post_form(client, path: str, fields: dict, tally: WebTally, label: str, csrf: bool = True) -> None:
    if csrf and "x-fuzz-csrf" not in client.headers:  # a client's token lasts as long as its cookie: fetched once
        client.headers["x-fuzz-csrf"] = csrf_of(client.get("/web/login").text)
    token = client.headers["x-fuzz-csrf"] if csrf else "forged"
    body = _raw_form({"csrf": token, **fields})
    _send(client, "POST", path, tally, label, content=body,
          headers={"content-type": "application/x-www-form-urlencoded"})


def _same_but_case(a: httpx.Response, b: httpx.Response, case_a: str, case_b: str) -> bool:
    def norm(r: httpx.Response, case_no: str) -> str:
        text, canonical = r.text, normalise_case_no(case_no)
        for spelling in (case_no, canonical, canonical.replace("(", "（").replace(")", "）"), quote(case_no, safe=""),
                         quote(canonical, safe="")):
            text = text.replace(spelling, "#")
        return re.sub(r'name="csrf" value="[^"]+"', "", text)

    return (a.status_code, norm(a, case_a)) == (b.status_code, norm(b, case_b))


def _leak_check(client, world, person: str, tally: WebTally) -> None:
    agency = PEOPLE[person][0]
    unreadable = [world.readable] if agency not in (REQUESTER, HOLDER) else []
    unreadable += [world.hidden] if agency != OTHER else []
    for existing in unreadable:
        pages = [_send(client, "GET", "/web/case", tally, "leak /web/case", params={"case_no": c})
                 for c in (existing, world.missing)]
        tally.leak_pairs += 1
        if None not in pages and not _same_but_case(pages[0], pages[1], existing, world.missing):
            tally.fail(f"existence leak on /web/case as {person}: {pages[0].status_code} vs {pages[1].status_code}")


def fuzz_web(world, per_form: int) -> WebTally:
    """Draw ``per_form`` examples per form and page, each sent by a rotating signed-in person (and anonymously);
    returns the tally."""
    tally = WebTally()
    clients = {p: signed_in(world.url, p) for p in PERSONS}
    clients["-anonymous-"] = httpx.Client(base_url=world.url, follow_redirects=False, timeout=60)
    for n, client in enumerate(clients.values(), 1):  # each its own address (trusted from loopback, as a proxy's)
        client.headers["X-Forwarded-For"] = f"10.0.2.{n}"
    callers = itertools.cycle(list(clients))
    ids = st.one_of(st.sampled_from(world.requests), st.integers(-5, 10 ** 30))
    value = st.one_of(TEXT, RAW)
    cases = st.one_of(st.sampled_from([world.readable, world.hidden, world.missing]), TEXT)
    forms = {
        "POST /web/requests": st.fixed_dictionaries({
            "case_no": st.one_of(cases, RAW), "holding_agency": st.one_of(st.sampled_from([HOLDER, OTHER]), value),
            "department": value, "legal_basis": value, "reason": value, "contact": value,
            "days": st.one_of(st.sampled_from(["30", "365", "366"]), value),
            "scope": st.sampled_from(["all", "some", "", "其他"]), "volumes": value}),
        "POST /web/requests (numbers)": st.fixed_dictionaries({  # a filing valid but for its numbers
            "case_no": cases, "holding_agency": st.just(HOLDER), "department": st.just("第一检察部"),
            "legal_basis": st.just("刑事诉讼法第一百七十六条"), "reason": st.just("审查起诉"), "contact": st.just("李 123"),
            "days": st.one_of(st.just("30"), NUMBERS), "scope": st.sampled_from(["some", "all"]), "volumes": NUMBERS}),
        "POST /web/requests/{id}/act": st.fixed_dictionaries({
            "id": ids, "action": st.one_of(st.sampled_from(["review", "approve", "release", "refuse"]), value),
            "comment": value, "back": st.one_of(st.just("inbox"), value)}),
        "POST /web/login": st.fixed_dictionaries({"username": value, "password": value, "next": value}),
        "GET /web/case": st.fixed_dictionaries({"case_no": cases}),
        "GET /web/cases/{case_no}/volumes/{n}": st.fixed_dictionaries({
            "case_no": cases, "n": st.one_of(st.integers(-3, 10 ** 30).map(str), TEXT), "download": TEXT}),
        "GET /web/requests/new": st.fixed_dictionaries({"case_no": TEXT, "holding_agency": TEXT}),
        "GET /web/requests/{id}": st.fixed_dictionaries({"id": ids, "done": TEXT}),
        "GET /web/inbox": st.fixed_dictionaries({"done": TEXT}),
        "GET /web/login": st.fixed_dictionaries({"next": TEXT}),
    }
    for label, strategy in forms.items():
        _examples(label, strategy, per_form, lambda: clients[next(callers)], tally)()
    for person in PERSONS:
        _leak_check(clients[person], world, person, tally)
    for client in clients.values():
        client.close()
    return tally


def _examples(label: str, strategy, per_form: int, client_of, tally: WebTally):
    """The Hypothesis test sending ``per_form`` drawn examples of one form or page."""
    @settings(max_examples=per_form, deadline=None, database=None, phases=[Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck))
    @hypothesis.given(strategy, st.sampled_from([True, True, True, False]))  # mostly past the CSRF check
    def examples(fields, with_csrf):
        _one(client_of(), label, dict(fields), with_csrf, tally)

    return examples


def _one(client, label: str, fields: dict, with_csrf: bool, tally: WebTally) -> None:
    method, path = label.split(" ")[:2]
    for name in ("id", "case_no", "n"):
        if "{" + name + "}" in path:
            value = fields.pop(name)
            text = value if isinstance(value, str) else value.decode("latin-1") if isinstance(value, bytes) \
                else str(value)
            path = path.replace("{" + name + "}", quote(text.encode("utf-8", "surrogatepass"), safe=""))
    if method == "POST":
        _post_form(client, path, fields, tally, label, csrf=with_csrf)
    else:
        params = {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in fields.items()}
        _send(client, "GET", path, tally, label, params=params)

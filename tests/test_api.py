"""The fetch service over real HTTP (uvicorn on a free loopback port) against the real embedded SeaweedFS."""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from pipeline.access import Database, GrantStore, TokenStore, audit_key, create_app, read_audit, verify_audit
from pipeline.errors import StoreError
from pipeline.storage import ObjectStore, StoreConfig, case_key, fetch_via_server, normalise_case_no, publish_dossier
from tests.access_fixtures import copy_signer, publish_as_pipeline
from tests.store_fixtures import make_dossier, serve_in_thread, unique_case_no

OWNER, PARTNER, LATER, STRANGER = "豫0727法院", "新封县人民检察院", "开封市公安局", "郑州市中级人民法院"


@dataclass
class Service:
    url: str
    store: ObjectStore
    app: object
    audit_prefix: str
    case_no: str
    manifest: object
    out: Path
    tokens: dict
    grants: GrantStore
    token_store: TokenStore

    def get(self, path: str, agency: str | None = None, token: str | None = None, **kw) -> httpx.Response:
        headers = {}
        if agency is not None:
            headers["Authorization"] = f"Bearer {self.tokens[agency]}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(self.url + path, headers=headers, timeout=180, **kw)

    def entries(self) -> list[dict]:
        self.app.state.audit.flush()
        return list(read_audit(self.store, self.audit_prefix))


def enc(case_no: str) -> str:
    return quote(case_no, safe="")


@pytest.fixture(scope="module")
def api_database(tmp_path_factory):
    db = Database.open(f"sqlite:///{tmp_path_factory.mktemp('api-db') / 'access.db'}")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def service(embedded_store, tmp_path_factory, api_database):
    store = embedded_store.store()
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path_factory.mktemp("api"), case_no, volumes=2,
                                            volume_bytes=700_000, agency=OWNER)
    publish_as_pipeline(api_database, store, manifest, out, originals)
    GrantStore(api_database).grant(case_no, PARTNER)
    token_store = TokenStore(api_database)
    tokens = {agency: token_store.create(agency, label="test")[0] for agency in (OWNER, PARTNER, LATER, STRANGER)}
    prefix = f"system/audit-test-{secrets.token_hex(4)}/"
    app = create_app(embedded_store.config, database=api_database, cache_ttl=0, manifest_ttl=0, audit_prefix=prefix,
                     copy_signer=copy_signer(embedded_store))
    with serve_in_thread(app) as url:
        yield Service(url, store, app, prefix, case_no, manifest, out, tokens, GrantStore(api_database),
                      token_store)


def test_request_without_a_token_is_401_with_a_json_reason(service):
    r = service.get(f"/dossiers/{enc(service.case_no)}")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized" and "bearer token" in r.json()["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["nonsense", "dos_000000000000_" + "A" * 43])
def test_malformed_or_unknown_token_is_401(service, token):
    assert service.get(f"/dossiers/{enc(service.case_no)}", token=token).status_code == 401


def test_revoked_token_is_401(service):
    token, record = service.token_store.create(PARTNER)
    assert service.get(f"/dossiers/{enc(service.case_no)}", token=token).status_code == 200
    service.token_store.revoke(record.id)
    assert service.get(f"/dossiers/{enc(service.case_no)}", token=token).status_code == 401


@pytest.mark.parametrize("path", ["", "/volumes/1", "/manifest.json", "/volumes/77"])
def test_other_agency_gets_the_same_403_for_an_existing_and_a_missing_case(service, path):
    existing = service.get(f"/dossiers/{enc(service.case_no)}{path}", STRANGER)
    missing = service.get(f"/dossiers/{enc(unique_case_no())}{path}", STRANGER)
    assert existing.status_code == missing.status_code == 403
    assert existing.content == missing.content
    assert existing.json() == {"error": "forbidden", "detail": "this agency has no access to the requested case"}
    assert set(existing.headers) == set(missing.headers)


def test_owner_agency_gets_the_manifest_with_its_catalogue(service):
    r = service.get(f"/dossiers/{enc(service.case_no)}", OWNER)
    assert r.status_code == 200
    body = r.json()
    assert body["case_no"] == service.case_no and body["case_key"] == case_key(service.case_no)
    assert [v["sha256"] for v in body["manifest"]["volumes"]] == [v.sha256 for v in service.manifest.volumes]
    assert body["catalogue"]["case_no"] == service.case_no


def test_a_granted_agency_downloads_a_copy_of_a_volume_made_from_the_one_its_manifest_names(service):
    r = service.get(f"/dossiers/{enc(service.case_no)}/volumes/2", PARTNER)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["x-copy-source-sha256"] == service.manifest.volumes[1].sha256
    assert hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]


def test_any_spelling_of_the_case_number_in_the_url_reaches_the_dossier(service):
    ascii_spelling = service.case_no.replace("（", "(").replace("）", ")")
    fullwidth_digits = service.case_no.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for spelling in (ascii_spelling, fullwidth_digits):
        assert service.get(f"/dossiers/{enc(spelling)}", PARTNER).json()["case_no"] == service.case_no


def test_grant_gives_an_agency_access_and_revoking_takes_it_away(service):
    path = f"/dossiers/{enc(service.case_no)}"
    assert service.get(path, LATER).status_code == 403
    service.grants.grant(service.case_no, LATER)
    assert service.get(path, LATER).status_code == 200
    service.grants.revoke(service.case_no, LATER)
    assert service.get(path, LATER).status_code == 403


def test_revoking_never_locks_out_the_owner(service, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, agency=OWNER)
    publish_as_pipeline(service.grants.db, service.store, manifest, out, originals)
    service.grants.grant(case_no, PARTNER)
    service.grants.revoke(case_no, PARTNER)
    service.grants.revoke(case_no, OWNER)
    assert service.get(f"/dossiers/{enc(case_no)}", PARTNER).status_code == 403
    assert service.get(f"/dossiers/{enc(case_no)}", OWNER).status_code == 200


def test_granted_agency_learns_that_a_volume_or_an_unpublished_case_does_not_exist(service):
    assert service.get(f"/dossiers/{enc(service.case_no)}/volumes/9", PARTNER).status_code == 404
    unpublished = unique_case_no()
    service.grants.grant(unpublished, PARTNER)
    r = service.get(f"/dossiers/{enc(unpublished)}", PARTNER)
    assert r.status_code == 404 and r.json()["error"] == "not-found"


def test_something_that_is_not_a_case_number_is_400(service):
    r = service.get(f"/dossiers/{enc('刑初号')}", OWNER)
    assert r.status_code == 400 and r.json()["error"] == "bad-case-number"


def test_every_request_allowed_or_denied_is_in_the_audit_log(service):
    path = f"/dossiers/{enc(service.case_no)}"
    marker = secrets.token_hex(4)
    calls = [(None, path, 401), (STRANGER, path, 403), (PARTNER, path, 200), (PARTNER, path + "/volumes/1", 200)]
    responses = [service.get(p, agency, params={"m": marker}) for agency, p, _ in calls]
    assert [r.status_code for r in responses] == [status for _, _, status in calls]

    mine = [e for e in service.entries() if e.get("query") == f"m={marker}"]
    assert [(e["agency"], e["status"], e["result"]) for e in mine] == [
        ("-", 401, "unauthenticated"), (STRANGER, 403, "denied"), (PARTNER, 200, "allowed"),
        (PARTNER, 200, "allowed")]
    assert all(e["case_no"] == normalise_case_no(service.case_no) for e in mine[1:])
    assert mine[3]["action"] == "volume" and mine[3]["bytes"] == len(responses[3].content)
    assert mine[3]["copy_id"] == responses[3].headers["x-copy-id"]
    assert mine[2]["bytes"] == len(responses[2].content)
    assert verify_audit(service.store, audit_key(service.grants.db), service.audit_prefix).ok


def test_a_response_is_withheld_when_its_audit_entry_cannot_be_stored(embedded_store, tmp_path, api_database):
    store = embedded_store.store()
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, agency=OWNER)
    publish_as_pipeline(api_database, store, manifest, out, originals)
    token, _ = TokenStore(api_database).create(OWNER)
    app = create_app(embedded_store.config, database=api_database, cache_ttl=0, audit_wait=5,
                     audit_prefix="system/audit-withheld/")
    dead = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0, timeout=1))
    app.state.audit.store = dead  # the audit log's store is unreachable; the dossier's store is fine
    with serve_in_thread(app) as url:
        r = httpx.get(f"{url}/dossiers/{enc(case_no)}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        app.state.audit.store = store  # let the pending entries through before shutdown
    assert r.status_code == 503 and r.json()["error"] == "audit-unavailable"
    assert "manifest" not in r.text


def test_fetch_via_server_downloads_and_verifies_every_file(service, tmp_path):
    from flows.cli.fetch import copy_check

    checked = []
    folder = fetch_via_server(service.url, service.tokens[PARTNER], service.case_no, tmp_path,
                              verify_pdf=lambda p: checked.append(p.name), copy_check=copy_check)
    assert folder == tmp_path / case_key(service.case_no)
    assert checked == ["001.pdf", "002.pdf"]
    for vol in service.manifest.volumes:
        copy_check(folder / vol.key, vol.sha256)
    assert (folder / "catalogue.json").read_bytes() == (service.out / "catalogue.json").read_bytes()


def test_fetch_via_server_refuses_a_copy_made_from_another_volume(service, tmp_path):
    from flows.cli.fetch import copy_check

    with pytest.raises(StoreError, match="nothing checks what it was made from"):
        fetch_via_server(service.url, service.tokens[PARTNER], service.case_no, tmp_path / "a")
    with pytest.raises(Exception, match="made from a volume with SHA-256"):
        fetch_via_server(service.url, service.tokens[PARTNER], service.case_no, tmp_path / "b",
                         copy_check=lambda path, sha: copy_check(path, "0" * 64))


def test_fetch_via_server_as_a_stranger_fails_with_the_reason(service, tmp_path):
    with pytest.raises(StoreError, match="403.*no access"):
        fetch_via_server(service.url, service.tokens[STRANGER], service.case_no, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_older_manifest_versions_are_listed_and_readable(service, tmp_path):
    case_no = unique_case_no()
    m1, out1, o1 = make_dossier(tmp_path / "a", case_no, agency=OWNER, label="first")
    service.grants.claim(case_no, OWNER)
    first = publish_dossier(service.store, m1, out1, o1)
    m2, out2, o2 = make_dossier(tmp_path / "b", case_no, agency=OWNER, label="second")
    publish_dossier(service.store, m2, out2, o2)
    versions = service.get(f"/dossiers/{enc(case_no)}/versions", OWNER).json()
    assert [v["latest"] for v in versions] == [True, False]
    assert versions[1]["version_id"] == first.manifest_version_id
    old = service.get(f"/dossiers/{enc(case_no)}/volumes/1", OWNER, params={"version": first.manifest_version_id})
    assert old.headers["x-copy-source-sha256"] == m1.volumes[0].sha256


def test_a_volume_is_served_marked_for_its_reader_even_where_presigned_redirects_are_configured(
        embedded_store, service, api_database, tmp_path):
    from pipeline.dossier import read_copy

    app = create_app(embedded_store.config, database=api_database, cache_ttl=0, presign_seconds=60,
                     audit_prefix=service.audit_prefix, copy_signer=copy_signer(embedded_store))
    with serve_in_thread(app) as url:
        r = httpx.get(f"{url}/dossiers/{enc(service.case_no)}/volumes/1",
                      headers={"Authorization": f"Bearer {service.tokens[OWNER]}"}, timeout=180)
    assert r.status_code == 200 and r.headers["x-copy-source-sha256"] == service.manifest.volumes[0].sha256
    assert hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]
    (tmp_path / "copy.pdf").write_bytes(r.content)
    assert read_copy(tmp_path / "copy.pdf")["copyId"] == r.headers["x-copy-id"]


def test_openapi_documents_the_fetch_endpoints(service):
    spec = httpx.get(service.url + "/openapi.json", timeout=30).json()
    assert {"/dossiers/{case_no}", "/dossiers/{case_no}/volumes/{n}", "/health"} <= set(spec["paths"])
    assert "403" in spec["paths"]["/dossiers/{case_no}"]["get"]["responses"]


def test_health_answers_without_a_token(service):
    assert service.get("/health").json()["store"] is True


def test_worker_factory_builds_the_app_from_the_environment(embedded_store, monkeypatch, tmp_path):
    from flows.service import app_from_env

    monkeypatch.delenv("DOSSIER_S3_ENDPOINT", raising=False)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    monkeypatch.setenv("DOSSIER_API_PRESIGN_SECONDS", "30")
    monkeypatch.setenv("DOSSIER_DB_URL", f"sqlite:///{tmp_path / 'worker.db'}")
    app = app_from_env()
    assert app.state.store.config.endpoint == embedded_store.config.endpoint
    assert app.state.database.revision() == app.state.database.head()

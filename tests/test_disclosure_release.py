"""Disclosure copies (阅卷版) in the 调卷 procedure, through the API: a lawyer's release gives the 阅卷版 by default,
the registrar may choose the original instead, a reader of the copy only is refused the original by every route,
a release waits for a copy not yet made, and every volume served is a copy marked for its reader, its identifier in
the audit log."""

from __future__ import annotations

import secrets

import pytest

from pipeline.access.requests import AgencyKinds
from pipeline.dossier import read_copy
from pipeline.models import DisclosureManifest, DisclosureVolume
from pipeline.storage import publish_disclosure
from tests.access_fixtures import REQUESTER, enc
from tests.store_fixtures import make_dossier, unique_case_no


def publish_copy(svc, case_no: str, volumes: int = 2) -> DisclosureManifest:
    """A lawyer's copy of a published case, as `dossier disclose` publishes it (fake volumes)."""
    folder = svc.tmp / secrets.token_hex(4)
    original, out, _ = make_dossier(folder, case_no, volumes=volumes, label="阅卷版")
    (out / "catalogue.json").write_text('{"case_no": "x", "volumes": [{"volume": 1, "entries": [{"seq": 1, '
                                        '"title": "被害人周某某询问笔录", "first_page": 1, "last_page": 1}]}]}',
                                        encoding="utf-8")
    from pipeline.common import sha256_file

    manifest = DisclosureManifest(
        case_no=original.case_no, case_key=original.case_key, profile="lawyer", profile_id="阅卷版（律师）",
        profile_version="1.0.0", recipient="lawyer", source_manifest_version=None, source_manifest_sha256="0" * 64,
        created=original.created, made_by="test", approved_by="陈案管", detections=[], counts={"name": 1},
        catalogue_sha256=sha256_file(out / "catalogue.json"),
        volumes=[DisclosureVolume(number=v.number, key=v.key, sha256=v.sha256, bytes=v.bytes, source_sha256=v.sha256,
                                  pages=1, pdf_pages=1, counts={}) for v in original.volumes])
    publish_disclosure(svc.store, manifest, out)
    return manifest


@pytest.fixture
def lawyers(request_service):
    """The requesting agency recorded as a lawyer's firm."""
    AgencyKinds(request_service.db).set(REQUESTER, "lawyer", "test")
    return request_service


ORIGINAL_ROUTES = ["", "/manifest.json", "/catalogue.json", "/report.json", "/versions", "/volumes/1",
                   "/volumes/2", "?version=0123456789abcdef"]


def test_a_lawyers_request_is_released_as_the_disclosure_copy_by_default(lawyers):
    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    publish_copy(svc, case_no)
    request_id = svc.released(case_no)
    assert svc.call("clerk", "GET", f"/requests/{request_id}").json()["released_copy"] == "lawyer"
    body = svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/disclosure").json()
    assert body["profile"] == "lawyer" and body["catalogue"]["volumes"][0]["entries"][0]["title"] == "被害人周某某询问笔录"


@pytest.mark.parametrize("route", ORIGINAL_ROUTES)
def test_a_reader_released_the_disclosure_copy_is_refused_every_route_of_the_original(lawyers, route):
    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    publish_copy(svc, case_no)
    svc.released(case_no)
    r = svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}{route}")
    assert r.status_code == 403 and "阅卷版" in r.json()["detail"]


def test_the_registrar_may_release_the_original_to_a_lawyer_instead(lawyers):
    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    request_id = svc.file(case_no=case_no).json()["id"]
    svc.act("head", request_id, "review")
    svc.act("deputy", request_id, "approve")
    r = svc.call("registrar", "POST", f"/requests/{request_id}/actions", json={"action": "release", "copy": "original"})
    assert r.status_code == 200 and r.json()["released_copy"] == "original"
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/volumes/1").status_code == 200


def test_another_agencys_request_is_released_as_the_original_by_default(request_service):
    svc, case_no = request_service, unique_case_no()
    svc.publish(case_no)
    request_id = svc.released(case_no)
    assert svc.call("clerk", "GET", f"/requests/{request_id}").json()["released_copy"] == "original"
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}").status_code == 200


def test_a_release_of_a_copy_not_yet_made_waits_and_is_released_when_it_is_published(lawyers):
    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    request_id = svc.file(case_no=case_no).json()["id"]
    for person, action in (("head", "review"), ("deputy", "approve"), ("registrar", "release")):
        last = svc.act(person, request_id, action)
    assert last.json()["state"] == "waiting" and last.json()["released_copy"] == "lawyer"
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/disclosure").status_code == 403
    publish_copy(svc, case_no)
    assert svc.app.state.desk.release_published() == 1
    assert svc.call("clerk", "GET", f"/requests/{request_id}").json()["state"] == "released"
    assert svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/disclosure").status_code == 200


def test_a_volume_of_the_copy_is_served_marked_for_its_reader_and_its_identifier_audited(lawyers, tmp_path):
    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    copy = publish_copy(svc, case_no)
    request_id = svc.released(case_no)
    r = svc.call("clerk", "GET", f"/dossiers/{enc(case_no)}/disclosure/volumes/2")
    assert r.status_code == 200 and r.headers["x-copy-source-sha256"] == copy.volumes[1].sha256
    (tmp_path / "v.pdf").write_bytes(r.content)
    found = read_copy(tmp_path / "v.pdf")
    assert found["copyId"] == r.headers["x-copy-id"] and found["copyRequest"] == str(request_id)
    assert found["copyAgency"] == REQUESTER and found["copyPerson"] == "李内勤" and found["copyOf"] == "阅卷版（律师）"
    entry = next(e for e in svc.entries() if e.get("copy_id") == found["copyId"])
    assert (entry["request_id"], entry["volume"], entry["actor_name"]) == ([request_id], 2, "李内勤")


def test_a_case_without_a_key_to_certify_copies_serves_no_volume(embedded_store, database, tmp_path):
    import httpx

    from pipeline.access import GrantStore, TokenStore, create_app
    from tests.access_fixtures import publish_as_pipeline
    from tests.store_fixtures import serve_in_thread

    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, agency="新封县人民法院")
    publish_as_pipeline(database, embedded_store.store(), manifest, out, originals)
    GrantStore(database).claim(case_no, "新封县人民法院")
    token, _ = TokenStore(database).create("新封县人民法院")
    app = create_app(embedded_store.config, database=database, cache_ttl=0,
                     audit_prefix=f"system/audit-nokey-{secrets.token_hex(3)}/")
    with serve_in_thread(app) as url:
        r = httpx.get(f"{url}/dossiers/{enc(case_no)}/volumes/1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60)
    assert r.status_code == 503 and r.json()["error"] == "no-copy-key"


def test_a_reader_released_the_disclosure_copy_searches_the_copy_and_never_the_original(database):
    from datetime import UTC, datetime

    from pipeline.access import GrantStore, search_scope
    from pipeline.search import DISCLOSURE, ORIGINAL
    from pipeline.storage import case_key

    grants, copied, whole = GrantStore(database, cache_ttl=0), unique_case_no(), unique_case_no()
    with database.write() as conn:
        grants.add(conn, copied, REQUESTER, source="admin", by="test", copy="lawyer")
        grants.add(conn, whole, REQUESTER, source="admin", by="test")
    scope = search_scope(REQUESTER, grants, datetime.now(UTC))
    kinds = {g.case_key: g.copy for g in scope.grants}
    assert kinds[case_key(copied)] == DISCLOSURE and kinds[case_key(whole)] == ORIGINAL


def test_dossier_fetch_copy_disclosure_fetches_the_copy_released_to_the_caller_marked_for_him(lawyers, embedded_store,
                                                                                              monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    copy = publish_copy(svc, case_no)
    svc.released(case_no)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    done = CliRunner().invoke(app, ["fetch", case_no, "--copy", "disclosure", "--server", svc.url, "--token",
                                    svc.tokens["clerk"], "--out", str(tmp_path / "fetched"), "--development-key"],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    folder = next(p for p in (tmp_path / "fetched").iterdir() if not p.name.startswith("."))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "catalogue.json", "disclosure.json", "volumes/001.pdf", "volumes/002.pdf"]
    marked = read_copy(folder / "volumes/002.pdf")
    assert marked["copySourceSha256"] == copy.volumes[1].sha256 and marked["copyPerson"] == "李内勤"


def test_dossier_fetch_of_the_original_is_refused_to_a_reader_of_the_copy(lawyers, embedded_store, monkeypatch,
                                                                          tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    svc, case_no = lawyers, unique_case_no()
    svc.publish(case_no)
    publish_copy(svc, case_no)
    svc.released(case_no)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    done = CliRunner().invoke(app, ["fetch", case_no, "--server", svc.url, "--token", svc.tokens["clerk"], "--out",
                                    str(tmp_path / "fetched"), "--development-key"], catch_exceptions=False)
    assert done.exit_code != 0 and "阅卷版" in done.output
    assert not [p for p in (tmp_path / "fetched").iterdir() if not p.name.startswith(".")]

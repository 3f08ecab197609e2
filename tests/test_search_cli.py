"""`dossier search`, `dossier search reindex` and `dossier withdraw`, run in-process against the session's store."""

from __future__ import annotations

import secrets

import pytest
from search_fixtures import make_case, renumbered
from typer.testing import CliRunner

from flows.cli import app
from pipeline.access import read_audit
from pipeline.errors import ExitCode
from pipeline.search import open_index
from pipeline.storage import DossierNotFound, load_manifest, normalise_case_no
from tests.access_fixtures import HOLDER
from tests.store_fixtures import unique_case_no

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("built"), "（2024）豫0727刑初51号", HOLDER, seed=51, pages=4)


@pytest.fixture
def run(embedded_store, monkeypatch, tmp_path):
    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_S3_BUCKET",
                 "DOSSIER_DB_URL", "DOSSIER_SEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    monkeypatch.setenv("DOSSIER_SEARCH_INDEX", str(tmp_path / "index"))

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def published(built, object_store):
    case = renumbered(built, unique_case_no())
    case.publish(object_store)
    return case


def test_reindex_of_a_case_reads_its_volumes_from_the_store_and_search_shows_the_page(run, published, built):
    case_no = published.manifest.case_no
    done = run("search", "reindex", "--case", case_no)
    assert done.exit_code == 0 and "reindexed 1 dossier(s)" in done.output, done.output
    name = built.facts.victim
    found = run("search", name, "--case", case_no)
    assert found.exit_code == 0, found.output
    pages = sorted(p for (v, p), lines in built.lines.items() if name in "".join(lines))
    assert f"共找到 {len(pages) + found.output.count('卷内目录') + found.output.count('案件信息')} 处" in found.output
    for p in pages:
        assert f"第1卷 第{p}页" in found.output
    assert name in found.output


def test_every_command_line_search_is_audited(run, published, built, object_store):
    run("search", "reindex", "--case", published.manifest.case_no)
    run("search", built.facts.officer, "--case", published.manifest.case_no)
    entries = [e for e in read_audit(object_store) if e.get("action") == "search"
               and e.get("search_case") == published.manifest.case_no]
    assert len(entries) == 1 and entries[0]["search"] == built.facts.officer and entries[0]["hits"] > 0


def test_an_agency_option_searches_only_what_that_agency_may_read(run, published, built):
    run("search", "reindex", "--case", published.manifest.case_no)
    name = built.facts.defendant
    assert "共找到 0 处" in run("search", name, "--agency", "开封市公安局").output
    assert "共找到 0 处" not in run("search", name, "--agency", HOLDER, "--case", published.manifest.case_no).output


def test_a_withdrawn_dossier_is_neither_found_nor_fetched_and_the_withdrawal_is_audited(run, published, built,
                                                                                       object_store, tmp_path):
    case_no = published.manifest.case_no
    run("search", "reindex", "--case", case_no)
    assert "共找到 0 处" not in run("search", built.facts.defendant, "--case", case_no).output
    done = run("withdraw", case_no, "--reason", "误将他案卷宗合并发布")
    assert done.exit_code == 0, done.output
    assert "共找到 0 处" in run("search", built.facts.defendant, "--case", case_no).output
    with pytest.raises(DossierNotFound):
        load_manifest(object_store, case_no)
    entry = [e for e in read_audit(object_store) if e.get("action") == "dossier.withdraw"
             and e.get("case_no") == normalise_case_no(case_no)]
    assert len(entry) == 1 and entry[0]["detail"] == "误将他案卷宗合并发布"
    again = run("withdraw", case_no, "--reason", "重复")
    assert again.exit_code == ExitCode.NOT_FOUND


def test_a_full_reindex_reads_every_published_dossier_and_drops_what_is_no_longer_published(
        run, built, embedded_store, monkeypatch, tmp_path):
    bucket = f"reindex-{secrets.token_hex(4)}"  # a bucket of its own: the whole store is read
    store = embedded_store.store(bucket=bucket)
    store.ensure_bucket()
    cfg = embedded_store.config
    for name, value in (("ENDPOINT", cfg.endpoint), ("ACCESS_KEY", cfg.access_key), ("SECRET_KEY", cfg.secret_key),
                        ("BUCKET", bucket)):
        monkeypatch.setenv(f"DOSSIER_S3_{name}", value)
    kept = [renumbered(built, unique_case_no()) for _ in range(2)]
    for case in kept:
        case.publish(store)
    never = renumbered(built, unique_case_no())  # in the index, never published (as after a withdrawal elsewhere)
    index = open_index("tantivy", tmp_path / "index")
    index.index_dossier(never.manifest, never.catalogue, never.volumes)
    index.close()
    done = run("search", "reindex")
    assert done.exit_code == 0 and "reindexed 2 dossier(s)" in done.output and "dropped 1" in done.output, done.output
    index = open_index("tantivy", tmp_path / "index")
    keys = index.backend.case_keys()
    index.close()
    assert keys == {case.manifest.case_key for case in kept}


def test_a_date_that_is_not_a_date_is_a_clear_usage_error(run):
    bad = run("search", "张三", "--from", "2024年1月1日")
    assert bad.exit_code == ExitCode.BAD_INPUT and "YYYY-MM-DD" in bad.output


def test_a_publication_whose_index_cannot_be_updated_says_the_dossier_is_published_and_how_to_catch_up(built,
                                                                                                     tmp_path):
    from flows.search import index_published
    from pipeline.errors import StoreError
    from pipeline.settings import Settings, StateLayout

    settings = Settings.load({"DOSSIER_SEARCH_BACKEND": "postgresql",
                              "DOSSIER_DB_URL": "postgresql://dossier@127.0.0.1:9/nowhere"})
    with pytest.raises(StoreError, match=r"is published, but the search index could not be updated.*"
                                         r"dossier search reindex --case"):
        index_published(settings, StateLayout.at(tmp_path / "state"), built.folder, built.manifest, "v1")


def test_an_index_of_another_version_is_refused_by_search_and_rebuilt_by_reindex(run, published, tmp_path):
    import json

    marker = tmp_path / "index" / "dossier-search.json"
    run("search", "reindex", "--case", published.manifest.case_no)
    marker.write_text(json.dumps({"schema": "0"}))
    refused = run("search", "被告人")
    assert refused.exit_code == ExitCode.UNAVAILABLE and "dossier search reindex" in refused.output
    rebuilt = run("search", "reindex", "--case", published.manifest.case_no)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "共找到 0 处" not in run("search", "被告人", "--case", published.manifest.case_no).output

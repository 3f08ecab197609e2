"""`dossier request`, `user` and `db` in-process, on the session's store and a fresh SQLite access database; the
time report; the folder `dossier fetch` writes into."""

import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli.fetch import case_folder_name
from pipeline.access import (
    AuditLog,
    Database,
    GrantStore,
    Principal,
    RequestDesk,
    UserStore,
    audit_key,
    filing_from,
    timing_report,
)
from pipeline.errors import ExitCode
from tests.access_fixtures import DEPARTMENT, HOLDER, REQUESTER, MovableClock
from tests.store_fixtures import make_dossier, unique_case_no

runner = CliRunner()


@pytest.fixture
def cli(embedded_store, monkeypatch, tmp_path):
    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_S3_BUCKET",
                 "DOSSIER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    monkeypatch.setenv("DOSSIER_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def invoke(*args, stdin=None):
        return runner.invoke(app, [str(a) for a in args], input=stdin, catch_exceptions=False)

    return invoke


def make_token(cli, agency, *roles):
    result = cli("token", "create", "--agency", agency, *[x for r in roles for x in ("--role", r)])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


FILING = ["--holding-agency", HOLDER, "--basis", "刑事诉讼法第一百七十六条", "--reason", "审查起诉",
          "--department", DEPARTMENT, "--contact", "李 123", "--days", "5"]


def test_a_request_goes_through_every_step_from_the_command_line(cli):
    people = {"clerk": make_token(cli, REQUESTER, "clerk"), "head": make_token(cli, REQUESTER, "reviewer"),
              "deputy": make_token(cli, REQUESTER, "approver"), "registrar": make_token(cli, HOLDER, "registrar")}
    filed = cli("request", "file", unique_case_no(), *FILING, "--volume", "1", "--token", people["clerk"], "--json")
    assert filed.exit_code == 0, filed.output
    request_id = json.loads(filed.output)["id"]
    for person, action in (("head", "review"), ("deputy", "approve")):
        assert cli("request", "act", request_id, action, "--comment", "同意", "--token", people[person]).exit_code == 0
    inbox = json.loads(cli("request", "list", "--inbox", "--token", people["registrar"], "--json").output)
    assert [(r["id"], r["actions"]) for r in inbox if r["id"] == request_id] == [(request_id, ["release", "refuse"])]
    released = cli("request", "act", request_id, "release", "--token", people["registrar"])
    assert released.exit_code == 0 and "waiting" in released.output  # not published: released when it appears
    shown = json.loads(cli("request", "show", request_id, "--token", people["clerk"], "--json").output)
    assert [e["step"] for e in shown["history"]] == ["filed", "reviewed", "approved", "waiting"]
    assert shown["volumes"] == [1]


def test_an_impossible_step_exits_refused_with_the_reason(cli):
    clerk, deputy = make_token(cli, REQUESTER, "clerk"), make_token(cli, REQUESTER, "approver")
    request_id = json.loads(cli("request", "file", unique_case_no(), *FILING, "--token", clerk, "--json").output)["id"]
    result = cli("request", "act", request_id, "approve", "--token", deputy)
    assert result.exit_code == ExitCode.REFUSED and "cannot take 'approve' now" in result.output
    assert cli("request", "list", "--token", "dos_000000000000_" + "A" * 43).exit_code == ExitCode.REFUSED


def test_request_commands_work_through_a_running_service(cli, request_service):
    svc = request_service
    filed = cli("request", "file", unique_case_no(), *FILING, "--server", svc.url, "--token", svc.tokens["clerk"],
                "--json")
    request_id = json.loads(filed.output)["id"]
    assert cli("request", "act", request_id, "review", "--server", svc.url, "--token", svc.tokens["head"]).exit_code == 0
    conflict = cli("request", "act", request_id, "review", "--server", svc.url, "--token", svc.tokens["head2"])
    assert conflict.exit_code == ExitCode.REFUSED and "409" in conflict.output
    listed = cli("request", "list", "--server", svc.url, "--token", svc.tokens["clerk"])
    assert str(request_id) in listed.output and "reviewed" in listed.output


def test_the_report_gives_median_90th_percentile_and_longest_from_filing_to_release_and_per_step(
        object_store, tmp_path):
    db, clock = Database.open(f"sqlite:///{tmp_path / 'report.db'}"), MovableClock()
    audit = AuditLog(object_store, audit_key(db), kind="test", prefix=f"system/audit-report-{secrets.token_hex(4)}/")
    held, _, _ = make_dossier(tmp_path / "d", unique_case_no(), agency=HOLDER)  # every case is published by HOLDER
    desk = RequestDesk(db, GrantStore(db, clock=clock), audit, lambda case_no: held, clock)
    clerk, head, deputy, registrar = (Principal(f"token:{n}", agency, frozenset({role}))
                                      for n, (agency, role) in enumerate([(REQUESTER, "clerk"), (REQUESTER, "reviewer"),
                                                                          (REQUESTER, "approver"),
                                                                          (HOLDER, "registrar")]))
    started = clock()
    for review_hours in (1, 2, 3, 4, 10):  # review takes 1-10 h, approval 1 day, release after 2 h
        case_no = unique_case_no()
        GrantStore(db).claim(case_no, HOLDER)  # published by HOLDER: its owner recorded
        filed = desk.file(clerk, filing_from(case_no=case_no, holding_agency=HOLDER, legal_basis="法",
                                             reason="由", department=DEPARTMENT, contact="李", days=5))
        for who, action, hours in ((head, "review", review_hours), (deputy, "approve", 24), (registrar, "release", 2)):
            clock.advance(hours=hours)
            desk.act(who, filed.id, action)
        clock.advance(hours=-(review_hours + 26))  # the next request is filed at the same time
    audit.close()
    report = timing_report(db, since=started - timedelta(minutes=1))
    stages = {s.name: s for s in report.stages}
    def hours(stage):  # the steps themselves take a few milliseconds of real time
        return stage.count, *(round(d.total_seconds() / 3600, 2) for d in (stage.median, stage.p90, stage.longest))

    assert hours(stages["filing → review"]) == (5, 3, 10, 10)
    assert hours(stages["review → approval"]) == (5, 24, 24, 24)
    assert hours(stages["approval → registrar's decision"]) == (5, 2, 2, 2)
    assert hours(stages["filing → release"]) == (5, 29, 36, 36)
    assert report.states == {"released": 5} and (report.released, report.within_target) == (5, 5)
    db.dispose()


def test_the_report_command_prints_each_stage(cli):
    result = cli("request", "report")
    assert result.exit_code == 0, result.output
    assert "filing → release" in result.output and "90th percentile" in result.output


def test_user_add_refuses_an_agency_known_nowhere_unless_it_is_said_to_be_new(cli, tmp_path):
    misspelt = cli("user", "add", "zhao", "--agency", "新封县人民捡察院", "--role", "clerk", "--password-stdin",
                   stdin="a long password\n")
    assert misspelt.exit_code == 3 and "--new-agency" in misspelt.output
    assert "zhao" not in cli("user", "list").output
    new = cli("user", "add", "zhao", "--agency", "新封县人民捡察院", "--role", "clerk", "--password-stdin",
              "--new-agency", stdin="a long password\n")
    assert new.exit_code == 0, new.output
    again = cli("user", "add", "qian", "--agency", "新封县人民捡察院", "--role", "clerk", "--password-stdin",
                stdin="a long password\n")
    assert again.exit_code == 0, again.output  # now one of its users makes it known


def test_user_add_takes_the_password_from_stdin_and_the_user_signs_in(cli, tmp_path):
    result = cli("user", "add", "wang", "--agency", REQUESTER, "--role", "reviewer", "--name", "王主任",
                 "--department", DEPARTMENT, "--password-stdin", "--new-agency", stdin="a long password\n")
    assert result.exit_code == 0, result.output
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    assert UserStore(db).verify("wang", "a long password").roles == ("reviewer",)
    assert "wang" in cli("user", "list").output
    assert cli("user", "disable", "wang").exit_code == 0
    assert UserStore(db).verify("wang", "a long password") is None
    db.dispose()


def test_db_upgrade_and_status_name_the_revision(cli):
    import pipeline.access.db as db_package

    versions = Path(db_package.__file__).parent / "migrations" / "versions"
    latest = max(p.name[1:5] for p in versions.glob("v[0-9][0-9][0-9][0-9]_*.py"))
    assert cli("db", "upgrade").output.rstrip().endswith(f": empty → {latest}")
    assert cli("db", "upgrade").output.rstrip().endswith(f": already at {latest}")
    assert f"revision {latest} (latest {latest})" in cli("db", "status").output


@pytest.mark.parametrize("spelling", ["（2024）豫0727刑初172号", "(2024)豫0727刑初172号", "（２０２４）豫0727刑初172号"])
def test_a_fetched_dossier_lands_in_a_folder_named_by_the_case_number_as_courts_write_it(spelling):
    assert case_folder_name(spelling) == "（2024）豫0727刑初172号"


def test_the_case_folder_name_is_safe_on_every_file_system():
    assert case_folder_name("新封检公诉刑诉〔2019〕172号") == "新封检公诉刑诉（2019）172号"
    assert case_folder_name("ABC172.") == "ABC172．"
    assert case_folder_name("com1") == "_com1"

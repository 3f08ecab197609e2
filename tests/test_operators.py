"""The scanning rooms' and administrators' side, as they meet it: a real `dossier watch` (runs in its process, on the
session's Prefect server), the real store, and the commands they type. Every reason a batch is quarantined with says
what to do next; each advice is run here and works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from pipeline.operations import Ledger
from tests.faults import CRASH_ENV, CRASH_WHILE_ENV, FAULT_ENV, FAULT_WHILE_ENV, SITE
from tests.operator_fixtures import (
    RUN_TIMEOUT,
    Watch,
    binding,
    dossier,
    drop,
    entries,
    make_room,
    review_profile,
    settled_as,
    wait_settled,
    write_bindings,
)
from tests.ops_fixtures import (
    DOSSIER,
    ROOT,
    make_batch,
    store_environment,
    subprocess_env,
    wait_for,
    write_profile,
)
from tests.store_fixtures import unique_case_no

pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")
OTHER = "河南省新乡市中级人民法院"


class Rooms:
    """The module's hot folder, state folder, rooms file and watcher (restartable with another environment)."""

    def __init__(self, base, env):
        self.base, self.hot, self.state = base, base / "hot", base / "state"
        self.profile = write_profile(base)
        self.crash_case, self.crash_flag = unique_case_no(), base / "crash.flag"
        self.volume_flag = base / "volume.flag"
        self.env = {**env, FAULT_ENV: "2", FAULT_WHILE_ENV: str(self.volume_flag), CRASH_ENV: self.crash_case,
                    CRASH_WHILE_ENV: str(self.crash_flag), "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)]),
                    "DOSSIER_S3_MAX_SECURITY": "internal", "DOSSIER_LANG": "zh_CN"}
        for room in ("room-1", "room-2"):
            make_room(self.hot, room)
        self.bind({"room-1": binding(self.profile), "room-2": binding(self.profile, case_numbers=(r"\(2024\).*",))})
        self.watch: Watch | None = None

    def bind(self, rooms: dict[str, dict]) -> None:
        write_bindings(self.state / "rooms.yaml", rooms)

    def start(self, **env: str) -> Watch:
        if self.watch is not None:
            self.watch.stop()
        self.env.update(env)
        self.watch = Watch(self.hot, self.state, self.env)
        wait_for(lambda: self.watch.saw("watching") or self.watch.proc.poll() is not None, 240, "the watcher")
        assert self.watch.proc.poll() is None, self.watch.output()
        return self.watch

    def source(self, name: str, case_no: str | None = None, **manifest) -> object:
        folder = make_batch(self.base / "sources" / name, case_no or unique_case_no())
        if manifest:
            data = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
            data.update(manifest)
            (folder / "batch.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return folder

    def reason(self, room: str, batch: str) -> str:
        return (self.hot / "quarantine" / room / batch / "reason.txt").read_text(encoding="utf-8")

    def requeue(self, room: str, batch: str, by: str = "李管理员") -> subprocess.CompletedProcess:
        return dossier(self.env, "requeue", f"{room}/{batch}", "--by", by, "--home", str(self.state))

    def wait_published(self, room: str, batch: str, what: str) -> None:
        """Wait until a batch dropped again or requeued is in done/; fail at once, with its reason, when it is
        quarantined again instead (CI waited out 300 s five times for batches an error had quarantined)."""
        before = {(e.fingerprint, e.state, e.requeued) for e in entries(self.state, batch)}

        def quarantined_again() -> str:
            again = [e for e in entries(self.state, batch)
                     if e.state == "quarantined" and (e.fingerprint, e.state, e.requeued) not in before]
            return f"quarantined again: {again[0].reason}\n{self.watch.output()}" if again else ""

        wait_for(lambda: (self.hot / "done" / room / batch).is_dir(), RUN_TIMEOUT, what, failed=quarantined_again)


@pytest.fixture(scope="module")
def rooms(embedded_store, prefect_harness, tmp_path_factory):
    setup = Rooms(tmp_path_factory.mktemp("operators"), subprocess_env(store_environment(embedded_store)))
    setup.start()
    yield setup
    setup.watch.stop()


def advice_of(rooms: Rooms, room: str, batch: str) -> str:
    text = rooms.reason(room, batch)
    assert text.startswith("批次："), text  # Chinese first
    return next(line for line in text.splitlines() if line.startswith("下一步："))


def test_a_batch_without_batch_json_is_quarantined_saying_to_drop_it_again_with_one_which_works(rooms):
    source = rooms.source("nojson")
    case_json = (source / "batch.json").read_bytes()
    (source / "batch.json").unlink()
    drop(source, rooms.hot / "room-1", "nojson")
    entry = wait_settled(rooms.state, "nojson", rooms.watch)
    assert entry.state == "quarantined" and entry.reason_kind == "bad-input"
    assert "batch.json" in advice_of(rooms, "room-1", "nojson") and "重新放入 room-1/" in advice_of(
        rooms, "room-1", "nojson")
    (source / "batch.json").write_bytes(case_json)  # the advice: correct it, drop the whole batch again
    drop(source, rooms.hot / "room-1", "nojson")
    rooms.wait_published("room-1", "nojson", "the corrected batch to publish")


def test_a_cut_page_is_quarantined_naming_it_and_the_batch_rescanned_publishes(rooms):
    source = rooms.source("cut")
    whole = (source / "009.jpg").read_bytes()
    (source / "009.jpg").write_bytes(whole[: len(whole) // 3])
    drop(source, rooms.hot / "room-1", "cut")
    entry = wait_settled(rooms.state, "cut", rooms.watch)
    assert entry.state == "quarantined" and entry.reason_kind == "bad-input" and entry.attempts == 0
    assert "009.jpg" in advice_of(rooms, "room-1", "cut")
    (source / "009.jpg").write_bytes(whole)  # rescanned
    drop(source, rooms.hot / "room-1", "cut")
    rooms.wait_published("room-1", "cut", "the rescanned batch to publish")


def test_a_case_number_the_room_may_not_publish_goes_again_by_requeue_once_allowed_and_the_audit_names_who(rooms):
    from tests.operator_fixtures import audit_entries

    drop(rooms.source("elsewhere", "（2023）豫0727刑初5号"), rooms.hot / "room-2", "elsewhere")
    entry = wait_settled(rooms.state, "elsewhere", rooms.watch)
    assert entry.reason_kind == "not-allowed"
    assert "dossier requeue room-2/elsewhere --by" in advice_of(rooms, "room-2", "elsewhere")
    rooms.bind({"room-1": binding(rooms.profile), "room-2": binding(rooms.profile)})  # the administrator allows it
    done = rooms.requeue("room-2", "elsewhere", by="李管理员")
    assert done.returncode == 0, done.stderr
    rooms.wait_published("room-2", "elsewhere", "the requeued batch to publish")
    audited = [e for e in audit_entries(rooms.env, "batch.requeue") if e.get("target") == "room-2/elsewhere"]
    assert audited and audited[0]["actor"] == "李管理员"


def test_a_requeue_without_a_named_person_is_refused(rooms):
    done = dossier({**rooms.env}, "requeue", "room-1/nothing", "--home", str(rooms.state))
    assert done.returncode == 2 and "--by" in done.stderr


def test_a_batch_above_the_buckets_security_level_goes_again_by_requeue_once_the_bucket_may_hold_it(rooms):
    drop(rooms.source("secret", security_level="confidential"), rooms.hot / "room-1", "secret")
    entry = wait_settled(rooms.state, "secret", rooms.watch)
    assert entry.reason_kind == "refused" and "dossier requeue room-1/secret" in advice_of(rooms, "room-1", "secret")
    rooms.start(DOSSIER_S3_MAX_SECURITY="confidential")  # the administrator's change, then the advice
    assert rooms.requeue("room-1", "secret").returncode == 0
    rooms.wait_published("room-1", "secret", "the requeued batch to publish")


def test_a_failed_volume_is_quarantined_saying_rerun_which_builds_it_and_moves_the_batch_to_done(rooms):
    rooms.volume_flag.write_text("fail")
    source = rooms.source("vol")
    drop(source, rooms.hot / "room-1", "vol")
    entry = wait_settled(rooms.state, "vol", rooms.watch)
    assert entry.reason_kind == "volumes", entry.reason
    advice = advice_of(rooms, "room-1", "vol")
    assert f"dossier rerun '{entry.case_no}'" in advice
    rooms.volume_flag.unlink()
    env = {k: v for k, v in rooms.env.items() if k != "PREFECT_API_URL"}
    done = dossier(env, "rerun", entry.case_no, "--state", str(rooms.state))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert Ledger(rooms.state).get(entry.fingerprint).state == "done"


def test_a_run_crashed_by_an_unexpected_error_is_quarantined_at_once_and_goes_again_by_requeue(rooms):
    rooms.crash_flag.write_text("crash")
    drop(rooms.source("crash", rooms.crash_case), rooms.hot / "room-1", "crash")
    entry = wait_settled(rooms.state, "crash", rooms.watch)
    assert entry.reason_kind == "unexpected" and entry.attempts == 0 and "RecursionError" in entry.reason
    assert "dossier requeue room-1/crash" in advice_of(rooms, "room-1", "crash")
    rooms.crash_flag.unlink()  # fixed
    assert rooms.requeue("room-1", "crash").returncode == 0
    rooms.wait_published("room-1", "crash", "the requeued batch to publish")


def test_a_batch_dropped_twice_says_there_is_nothing_to_do_and_names_the_first(rooms):
    source = rooms.source("twice")
    drop(source, rooms.hot / "room-1", "twice")
    wait_settled(rooms.state, "twice", rooms.watch, "done")
    drop(source, rooms.hot / "room-1", "twice")
    reason = rooms.hot / "quarantine" / "room-1" / "twice" / "reason.txt"
    wait_for(reason.exists, 120, "the copy to be quarantined")
    assert "无需操作" in advice_of(rooms, "room-1", "twice") and "room-1/twice" in advice_of(rooms, "room-1", "twice")


def test_with_one_run_paused_for_review_batches_of_another_room_and_of_the_same_room_publish(rooms):
    profile = review_profile(rooms.base)
    rooms.bind({"room-1": binding(rooms.profile), "room-2": binding(rooms.profile),
                "room-3": binding(profile)})
    make_room(rooms.hot, "room-3")
    waiting = rooms.source("doubtful")
    drop(waiting, rooms.hot / "room-3", "doubtful")
    wait_for(lambda: any(r.status == "review" for r in _runs(rooms)), RUN_TIMEOUT,
             "the doubtful batch's run to pause for review",
             failed=lambda: settled_as(rooms.state, "doubtful", rooms.watch))
    clear = rooms.source("clear", documents=[
        {"title": "起诉书", "pages": 1, "doc_no": "新封检公诉刑诉〔2024〕172号", "author": "河南省封丘县人民检察院",
         "date": "2024-03-01"},
        {"title": "扣押物品清单", "pages": 1, "doc_no": "新公（刑）扣字〔2024〕3号", "author": "封丘县公安局",
         "date": "2024-02-01"},
        {"title": "刑事判决书", "pages": 1, "doc_no": "（2024）豫0727刑初172号", "author": "河南省封丘县人民法院",
         "date": "2024-05-27"}])
    drop(clear, rooms.hot / "room-3", "clear")
    drop(rooms.source("other-room"), rooms.hot / "room-1", "other-room")
    assert wait_settled(rooms.state, "other-room", rooms.watch).state == "done"
    assert wait_settled(rooms.state, "clear", rooms.watch).state == "done"
    assert Ledger(rooms.state).entries() and not (rooms.hot / "done" / "room-3" / "doubtful").exists()
    status = dossier(rooms.env, "status", "--home", str(rooms.state), "--room", "room-3", "--json")
    rows = {row["batch"]: row for row in json.loads(status.stdout)["batches"]}
    assert rows["doubtful"]["state"] == "review" and rows["doubtful"]["label"].startswith("待审核（")
    assert "dossier catalogue review" in rows["doubtful"]["next_step"]


def _runs(rooms: Rooms) -> list:
    from pipeline.dossier import find_runs

    return [r for _, r in find_runs(rooms.state)]


def test_status_at_80_columns_has_no_line_over_80_and_shows_a_batch_waiting_in_its_room(rooms):
    from rich.cells import cell_len

    rooms.bind({"room-1": binding(rooms.profile), "room-2": binding(rooms.profile), "room-3": binding(rooms.profile)})
    waiting = rooms.hot / "room-2" / "still-dropping"
    shutil.copytree(rooms.source("still-dropping"), waiting)  # no READY marker yet: it waits in its room
    wait_for(lambda: "room-2/still-dropping" in (rooms.state / "hotfolder" / "watcher.json").read_text("utf-8"), 60,
             "the watcher to see the batch waiting")
    done = subprocess.run([*DOSSIER, "status", "--home", str(rooms.state)], cwd=ROOT,
                          env={**rooms.env, "COLUMNS": "80"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80, "\n".join(lines)
    assert any("still-dropping" in line and "放入中" in line for line in lines), done.stdout
    assert any("已隔离" in line for line in lines) and any("已发布" in line for line in lines)


def test_status_json_validates_against_its_schema_and_the_history_of_a_case_names_its_tries_and_runs(rooms):
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "status.schema.json").read_text(encoding="utf-8"))
    report = json.loads(dossier(rooms.env, "status", "--home", str(rooms.state), "--json").stdout)
    jsonschema.validate(report, schema)
    assert {row["state"] for row in report["batches"]} >= {"published", "quarantined"}
    quarantined = [row for row in report["batches"] if row["state"] == "quarantined"]
    assert all(row["next_step"] for row in quarantined)
    entry = next(e for e in Ledger(rooms.state).entries() if e.batch == "crash")
    history = json.loads(dossier(rooms.env, "status", entry.case_no, "--home", str(rooms.state), "--json").stdout)
    jsonschema.validate(history, json.loads((ROOT / "schemas" / "case-history.schema.json").read_text("utf-8")))
    kinds = {event["kind"] for event in history["events"]}
    assert {"try", "run", "publication"} <= kinds
    assert any(event["code"] == "requeued" and "李管理员 重新排队" in event["what"] for event in history["events"])


def test_a_watcher_without_a_signing_key_refuses_to_start_with_exit_8_before_any_server(rooms, tmp_path):
    env = {k: v for k, v in rooms.env.items() if k not in ("DOSSIER_DEVELOPMENT_KEY", "PREFECT_API_URL")}
    done = subprocess.run([*DOSSIER, "watch", str(rooms.hot), "--state", str(rooms.state)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 8 and "签名密钥不可用" in done.stderr and "Traceback" not in done.stderr


def test_a_watcher_without_a_store_refuses_to_start_with_exit_5(rooms):
    env = {**{k: v for k, v in rooms.env.items() if k != "PREFECT_API_URL"}, "DOSSIER_S3_ENDPOINT": "127.0.0.1:9"}
    done = subprocess.run([*DOSSIER, "watch", str(rooms.hot), "--state", str(rooms.state)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 5 and "对象存储不可用" in done.stderr


def test_a_rooms_file_inside_the_hot_folder_is_refused_with_exit_8(rooms, tmp_path):
    inside = write_bindings(rooms.hot / "rooms.yaml", {"room-1": binding(rooms.profile)})
    try:
        done = subprocess.run([*DOSSIER, "watch", str(rooms.hot), "--state", str(rooms.state), "--rooms",
                               str(inside)], cwd=ROOT, env=rooms.env, capture_output=True, text=True, timeout=120)
    finally:
        inside.unlink()
    assert done.returncode == 8 and "inside the hot folder" in done.stderr


def test_dossier_process_without_an_agency_is_refused_before_any_work(rooms, tmp_path):
    batch = make_batch(tmp_path / "noagency", unique_case_no())
    data = json.loads((batch / "batch.json").read_text(encoding="utf-8"))
    data["agency"] = ""
    (batch / "batch.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    env = {k: v for k, v in rooms.env.items() if k != "PREFECT_API_URL"}
    done = dossier(env, "process", str(batch), "--state", str(tmp_path / "state"))
    assert done.returncode == 3 and "--agency" in done.stderr
    assert not (tmp_path / "state" / "prefect").exists()  # refused before the temporary Prefect server started
    named = subprocess.run([sys.executable, "-m", "flows.cli", "process", str(batch), "--state",
                            str(tmp_path / "state"), "--agency", OTHER, "--no-publish", "--no-progress", "--profile",
                            str(rooms.profile), "--review", "never"], cwd=ROOT,
                           env={**rooms.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert named.returncode == 0, named.stderr[-2000:]
    from pipeline.dossier import find_runs

    assert [r.owner for _, r in find_runs(tmp_path / "state")] == [OTHER]


def write_key(folder) -> tuple:
    """A PKCS#12 signing key (with its password) and its certificate as a trust root."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from pipeline.archival._signer import make_self_signed

    key, cert = make_self_signed("河南省封丘县人民法院 档案室", "河南省封丘县人民法院")
    p12 = folder / "court.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"court", key, cert, None, serialization.BestAvailableEncryption(b"a password")))
    pem = folder / "court.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem


def test_a_key_removed_while_the_watcher_runs_holds_the_batch_which_publishes_by_itself_once_it_is_back(
        embedded_store, prefect_harness, tmp_path):
    p12, pem = write_key(tmp_path)
    hot, state = tmp_path / "hot", tmp_path / "state"
    room = make_room(hot, "room-1")
    write_bindings(state / "rooms.yaml", {"room-1": binding(write_profile(tmp_path))})
    env = {k: v for k, v in subprocess_env(store_environment(embedded_store)).items()
           if k != "DOSSIER_DEVELOPMENT_KEY"}
    env.update({"DOSSIER_SIGN_PKCS12": str(p12), "DOSSIER_SIGN_PASSWORD": "a password",
                "DOSSIER_TRUST_ROOTS": str(pem), "DOSSIER_LANG": "zh_CN"})
    watch = Watch(hot, state, env)
    try:
        wait_for(lambda: watch.saw("watching") or watch.proc.poll() is not None, 240, "the watcher")
        assert watch.proc.poll() is None, watch.output()
        hidden = tmp_path / "court.p12.away"
        os.rename(p12, hidden)  # the key is gone
        drop(make_batch(tmp_path / "src" / "b1", unique_case_no()), room, "b1")
        wait_for(lambda: "签名密钥不可用" in dossier(env, "status", "--home", str(state)).stdout, 120,
                 "the batch to be shown waiting for the key\n" + watch.output())
        assert not (hot / "quarantine").exists() or not any((hot / "quarantine").rglob("reason.txt"))
        os.rename(hidden, p12)  # back
        entry = wait_settled(state, "b1", watch)
        assert entry.state == "done" and entry.attempts == 0, entry.reason
        assert not (hot / "quarantine").exists() or not any((hot / "quarantine").rglob("reason.txt"))
    finally:
        watch.stop()


def test_a_review_nobody_gave_in_time_goes_again_by_requeue_and_a_named_reviewer_with_real_dates_publishes_it(rooms):
    profile = review_profile(rooms.base, "1.0.0-test-review-timeout")
    rooms.bind({"room-1": binding(rooms.profile), "room-4": binding(profile)})
    make_room(rooms.hot, "room-4")
    rooms.start(DOSSIER_REVIEW_TIMEOUT="15")
    source = rooms.source("late")
    drop(source, rooms.hot / "room-4", "late")
    entry = wait_settled(rooms.state, "late", rooms.watch)
    assert entry.reason_kind == "review-timeout", entry.reason
    assert "dossier requeue room-4/late" in advice_of(rooms, "room-4", "late")
    rooms.start(DOSSIER_REVIEW_TIMEOUT="600")
    assert rooms.requeue("room-4", "late").returncode == 0
    wait_for(lambda: any(r.status == "review" and r.batch_id == "late" for r in _runs(rooms)), RUN_TIMEOUT,
             "the requeued run to wait for its review", failed=lambda: settled_as(rooms.state, "late", rooms.watch))
    review = ["catalogue", "review", entry.case_no, "--state", str(rooms.state), "--accept",
              "--wait", "60"]
    impossible = dossier(rooms.env, *review, "--set", "1.日期=2024-13-45", "--by", "张三")
    assert impossible.returncode == 3 and "2024-13-45" in impossible.stderr
    nobody = dossier({**rooms.env}, *review)  # run as root: no person named
    assert nobody.returncode == 2 and "--by" in nobody.stderr
    done = dossier(rooms.env, *review, "--set", "1.日期=2024年3月", "--by", "张三")
    assert done.returncode == 0, done.stdout + done.stderr
    rooms.wait_published("room-4", "late", "the reviewed batch to publish")

"""Who has a place at the operators' desk: operators (扫描员) with the rooms an administrator gives them, the desk's
administrators (管理员) with every room, and nobody else; rooms are names the hot folder could have; the `dossier`
command gives and changes them, audited."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.access import Database, UserStore, read_audit
from pipeline.access.desk import at_desk, may_reprocess, may_see, rooms_seen
from pipeline.errors import BadInputError
from tests.access_fixtures import PASSWORD

AGENCY = "河南省封丘县人民法院"


@pytest.fixture
def users(tmp_path):
    db = Database.open(f"sqlite:///{tmp_path / 'access.db'}")
    yield UserStore(db)
    db.dispose()


def test_an_operator_signs_in_with_the_rooms_an_administrator_gave_them(users):
    made = users.create("li", PASSWORD, AGENCY, ["operator"], "李扫描", rooms=["room-1", "room-3"])
    assert made.rooms == ("room-1", "room-3")
    who = users.verify("li", PASSWORD).principal()
    assert who.rooms == frozenset({"room-1", "room-3"}) and at_desk(who)
    assert users.set_rooms("li", ["room-2"]).principal().rooms == frozenset({"room-2"})


@pytest.mark.parametrize("room", [".processing", "done", "quarantine", "_private", "a/b", "x" * 65])
def test_a_room_no_hot_folder_could_have_is_refused(users, room):
    with pytest.raises(BadInputError, match="room name"):
        users.create("li", PASSWORD, AGENCY, ["operator"], rooms=[room])


def test_an_operator_sees_their_rooms_only_and_the_desks_administrator_every_room(users):
    op = users.create("li", PASSWORD, AGENCY, ["operator"], rooms=["room-1"]).principal()
    boss = users.create("zhao", PASSWORD, AGENCY, ["ops-admin"]).principal()
    clerk = users.create("qian", PASSWORD, AGENCY, ["clerk", "admin"], rooms=["room-1"]).principal()
    assert [may_see(op, r) for r in ("room-1", "room-2", "", None)] == [True, False, False, False]
    assert rooms_seen(op, ["room-2", "room-3"]) == ["room-1"]
    assert rooms_seen(boss, ["room-2", "room-1"]) == ["room-1", "room-2"] and may_see(boss, "")
    assert not at_desk(clerk) and not may_see(clerk, "room-1")  # rooms without the role give nothing
    assert may_reprocess(boss) and not may_reprocess(op)


def test_dossier_user_rooms_gives_an_operator_rooms_audited_before_it_takes_effect(embedded_store, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_S3_")}
    env.update(DOSSIER_HOME=str(embedded_store.state_dir), DOSSIER_DB_URL=f"sqlite:///{tmp_path / 'access.db'}")
    # --new-agency: in a fresh state folder no published dossier or user has made the court known yet
    added = subprocess.run([sys.executable, "-m", "flows.cli", "user", "add", "sun", "--agency", AGENCY, "--role",
                            "operator", "--room", "room-1", "--password-stdin", "--new-agency"],
                           input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=180)
    assert added.returncode == 0, added.stderr
    moved = subprocess.run([sys.executable, "-m", "flows.cli", "user", "rooms", "sun", "--room", "room-2", "--room",
                            "room-3"], env=env, capture_output=True, text=True, timeout=180)
    assert moved.returncode == 0, moved.stderr
    assert "rooms room-2, room-3" in moved.stdout
    db = Database(env["DOSSIER_DB_URL"])
    assert UserStore(db).get("sun").rooms == ("room-2", "room-3")
    db.dispose()
    entries = [(e["action"], e.get("detail")) for e in read_audit(embedded_store.store())
               if e.get("target") == "sun"]
    assert ("user.rooms", "rooms=room-2,room-3") in entries
    assert any(a == "user.add" and "rooms=room-1" in d for a, d in entries)

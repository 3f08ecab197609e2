"""The state folder and the host's page-slot folder are the user's own: made 0700 whatever the umask, and refused
when another local user made them first, when others may write into them, or (in /tmp) when they are links."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flows.safety import HostSlots
from pipeline.errors import SettingsError
from pipeline.settings import StateLayout

NOBODY = 65534
needs_root = pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")


@pytest.fixture
def open_umask():
    old = os.umask(0o000)  # the most permissive umask an operator could have
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_state_folder_is_made_owner_only_whatever_the_umask(tmp_path, open_umask):
    layout = StateLayout.at(tmp_path / "state")
    assert _mode(layout.root) == 0o700


def test_a_state_folder_others_may_write_into_is_refused(tmp_path):
    home = tmp_path / "state"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(SettingsError, match=r"state folder .*state is writable by its group or others \(mode 0777\)"):
        StateLayout.at(home)


def test_an_existing_state_folder_others_may_read_is_made_owner_only(tmp_path):
    home = tmp_path / "state"
    home.mkdir(mode=0o755)  # as `mkdir /srv/dossier/state` makes it
    home.chmod(0o755)
    StateLayout.at(home)
    assert _mode(home) == 0o700


def test_the_access_database_and_its_journal_are_owner_only_whatever_the_umask(tmp_path, open_umask):
    from pipeline.access import Database, TokenStore

    db = Database.open(f"sqlite:///{tmp_path / 'state' / 'access.db'}")
    try:
        TokenStore(db).create("新封县人民检察院")  # a write: the WAL and its index exist now
        files = {p.name: _mode(p) for p in (tmp_path / "state").iterdir()}
    finally:
        db.dispose()
    assert files == {"access.db": 0o600, "access.db-wal": 0o600, "access.db-shm": 0o600}


def test_an_access_database_made_readable_by_others_is_made_owner_only(tmp_path):
    from pipeline.access import Database

    path = tmp_path / "access.db"
    Database.open(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    Database.open(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


@needs_root
def test_a_state_folder_owned_by_another_user_is_refused(tmp_path):
    home = tmp_path / "state"
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, NOBODY)
    with pytest.raises(SettingsError, match=f"belongs to user .*uid {NOBODY}"):
        StateLayout.at(home)


@needs_root
def test_the_command_line_refuses_a_foreign_state_folder_with_one_error_line(tmp_path):
    home = tmp_path / "state"
    home.mkdir(mode=0o755)
    os.chown(home, NOBODY, NOBODY)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "status", "--home", str(home)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 8
    said = done.stderr.strip()
    assert said.startswith("错误：") and "SettingsError: state folder" in said and "Traceback" not in said
    assert len(said.splitlines()) == 1


def test_the_page_slot_folder_is_made_owner_only_whatever_the_umask(tmp_path, open_umask):
    slots = HostSlots("pages", 2, tmp_path / "dossier-slots-test")
    with slots.slot(timeout_seconds=5):
        pass
    assert _mode(slots.folder) == 0o700
    assert all(_mode(p) == 0o600 for p in slots.folder.iterdir())


@needs_root
def test_a_page_slot_folder_another_user_made_first_is_refused(tmp_path):
    planted = tmp_path / "dossier-slots-0"
    planted.mkdir(mode=0o700)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(SettingsError, match="page slot folder .* belongs to user"):
        with HostSlots("pages", 2, planted).slot(timeout_seconds=5):
            pass


def test_a_page_slot_folder_that_is_a_link_or_open_to_others_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "dossier-slots-link"
    link.symlink_to(target)
    with pytest.raises(SettingsError, match="is a symbolic link"):
        with HostSlots("pages", 2, link).slot(timeout_seconds=5):
            pass
    shared = tmp_path / "dossier-slots-shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(SettingsError, match="writable by its group or others"):
        with HostSlots("pages", 2, shared).slot(timeout_seconds=5):
            pass

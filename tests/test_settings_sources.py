"""Every setting is read from its documented variable and from no other (HOME once decided the state folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class Recording(dict):
    """A mapping of variables that remembers every name looked up in it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def areas():
    return {name: field.annotation for name, field in Settings.model_fields.items()}


def aliases() -> set[str]:
    return {f.alias for area in areas().values() for f in area.model_fields.values()}


def undocumented() -> list[str]:
    """Fields without an alias or without a docstring (docs/reference/configuration.md is generated from both)."""
    return sorted(f"{name}.{field_name}" for name, area in areas().items()
                  for field_name, field in area.model_fields.items()
                  if not field.alias or not (field.description or "").strip())


def test_every_settings_field_has_an_alias_and_a_docstring_saying_what_it_means():
    assert undocumented() == []


def test_settings_look_up_no_variable_but_their_aliases():
    environ = Recording()
    Settings.load(environ)
    assert environ.asked <= aliases(), sorted(environ.asked - aliases())


def test_a_variable_named_like_a_settings_field_is_not_read(monkeypatch):
    defaults = Settings.load({})
    for area in areas().values():
        for name, field in area.model_fields.items():
            for variant in {name, name.upper(), name.lower()} - {field.alias}:
                monkeypatch.setenv(variant, "/leaked" if "path" in str(field.annotation).lower() else "7")
    monkeypatch.setenv("HOME", "/leaked-home")
    for variable in aliases():
        monkeypatch.delenv(variable, raising=False)
    assert Settings.load() == defaults
    assert Settings.load().paths.home == Path(".state")


def test_a_command_in_a_clean_environment_uses_the_state_folder_of_where_it_runs(tmp_path):
    home = tmp_path / "somewhere"
    home.mkdir()
    work = tmp_path / "clone"
    work.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "flows.cli", "store", "status"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert f"state {work / '.state'}" in " ".join(said.split()), said
    assert str(home) not in said


@pytest.mark.parametrize("variable, value", [("DOSSIER_TIMEZONE", "Mars/Olympus"), ("DOSSIER_LANG", "klingon")])
def test_an_invalid_locale_setting_is_refused_naming_its_variable(variable, value):
    from pipeline.errors import SettingsError

    with pytest.raises(SettingsError, match=variable):
        Settings.load({variable: value})

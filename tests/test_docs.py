"""The documentation: a README that is a front door, a site that builds without a warning, a configuration reference
that says what pipeline/settings.py says, and no link that leaves the repository."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

SCRIPT = ROOT / "scripts" / "settings_reference.py"
spec = importlib.util.spec_from_file_location("settings_reference", SCRIPT)
settings_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(settings_reference)

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://|\bmailto:|\bwww\.", re.I)


def prose(markdown: str) -> str:
    """The text a reader can click in: fenced blocks and inline code taken out."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def links_leaving_the_repository(page: Path, root: Path = ROOT) -> list[str]:
    """Every link of a page that goes out of the repository (``root``) or to nothing in it."""
    bad = []
    markdown = page.read_text(encoding="utf-8")
    for span in INLINE_CODE.findall(FENCE.sub("", markdown)):
        path = span.strip("`").split("#", 1)[0]
        if path.startswith("../") and not (page.parent / path).resolve().is_relative_to(root):
            bad.append(f"{path} (named outside the repository)")
    text = prose(markdown)
    for target in LINK.findall(text):
        path = target.split("#", 1)[0]
        if URL.match(target):
            bad.append(f"{target} (leaves the repository)")
        elif path and not (page.parent / path).resolve().is_relative_to(root):
            bad.append(f"{target} (outside the repository)")
        elif path and not (page.parent / path).exists():
            bad.append(f"{target} (no such file)")
    bad += [f"{m.group(0)}… (a bare address)" for m in URL.finditer(LINK.sub("", text))]
    return bad


def test_the_readme_is_a_front_door_of_at_most_150_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move the rest into docs/"


def test_the_readme_opens_with_the_two_commands_for_a_fresh_machine():
    first = README.read_text(encoding="utf-8").splitlines()[:4]
    assert first[0] == "```sh"
    assert first[1].startswith("make demo ") and first[2].startswith("make test ") and first[3] == "```"


@pytest.mark.parametrize("page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_link_leaves_the_repository(page):
    assert links_leaving_the_repository(page) == []


def test_the_link_check_catches_links_that_leave_the_repository(tmp_path):
    page = tmp_path / "docs" / "x.md"
    page.parent.mkdir()
    page.write_text("See [design](../../shared/DESIGN.md), [site](https://example.org), http://example.org, "
                    "`https://in.code/is-fine`, `../../shared/notes/` and [the guide](missing.md).\n", encoding="utf-8")
    found = links_leaving_the_repository(page, root=tmp_path)
    assert [f.split(" (")[1] for f in found] == ["named outside the repository)", "outside the repository)",
                                                 "leaves the repository)", "no such file)", "a bare address)"], found


def test_the_configuration_reference_says_what_the_settings_models_say():
    page = settings_reference.PAGE
    assert page.read_text(encoding="utf-8") == settings_reference.render(), \
        "docs/reference/configuration.md is stale: run 'make docs'"


def test_the_site_builds_with_strict_checks(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    built = tmp_path / "site"
    assert (built / "reference" / "configuration.html").exists()
    assert "DOSSIER_HOME" in (built / "reference" / "configuration.html").read_text(encoding="utf-8")

"""scripts/import_rules.py, which the test command runs: the private-name and function-level import rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_rules.py"
spec = importlib.util.spec_from_file_location("import_rules", SCRIPT)
import_rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_rules)


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def violations(root: Path) -> list[str]:
    return import_rules.violations(root, ("area",))


def test_a_private_name_imported_by_a_sibling_module_is_reported(tmp_path):
    tree(tmp_path, {"area/__init__.py": "", "area/_a.py": "_LIMIT = 3\n",
                    "area/_b.py": "from area._a import _LIMIT\n", "area/_c.py": "from ._a import _LIMIT\n"})
    found = violations(tmp_path)
    assert len(found) == 2 and all("imports private _LIMIT from area._a" in f for f in found)


def test_a_package_importing_its_own_private_module_is_not_reported(tmp_path):
    tree(tmp_path, {"area/__init__.py": "from area import _tables as tables\n", "area/_tables.py": ""})
    assert violations(tmp_path) == []


def test_a_function_importing_a_module_its_file_imports_at_the_top_is_reported(tmp_path):
    tree(tmp_path, {"area/__init__.py": "", "area/x.py": (
        "from area.y import a\n\n\ndef f():\n    from area.y import b\n\n    return a, b\n")})
    assert violations(tmp_path) == ["area/x.py:5: f() imports area.y, which the file already imports at its top"]


def test_a_function_importing_what_the_file_names_only_for_type_checking_is_not_reported(tmp_path):
    tree(tmp_path, {"area/__init__.py": "", "area/x.py": (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from area.y import a\n\n\n"
        "def f():\n    from area.y import a\n\n    return a\n")})
    assert violations(tmp_path) == []

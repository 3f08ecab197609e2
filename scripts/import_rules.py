"""Check two import rules of DESIGN.md §3 that import-linter's contracts do not cover (it sees modules, not names):

    python scripts/import_rules.py

- private means private: a name starting with ``_`` is never imported from another module (a package's
  ``__init__`` may import its own private submodules);
- no function imports a module that its file already imports at the top: the module is loaded with the file, so the
  deferred import saves nothing and only hides a dependency.

Prints each violation as ``path:line: message`` and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "flows")


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a module file under ``root``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_module(node: ast.ImportFrom, path: Path, root: Path) -> str:
    """The absolute module an ``from … import`` statement names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(path: Path, tree: ast.Module, root: Path) -> Iterator[str]:
    """``path:line: …`` for each private name the module imports from another module."""
    this = module_name(path, root)
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = imported_module(node, path, root)
        for alias in node.names:
            own_submodule = source == this and path.name == "__init__.py"
            if alias.name.startswith("_") and not alias.name.startswith("__") and not own_submodule:
                yield (f"{path.relative_to(root)}:{node.lineno}: imports private {alias.name} from {source} "
                       "(drop the underscore where the name is meant for its area)")


def redundant_function_imports(path: Path, tree: ast.Module, root: Path) -> Iterator[str]:
    """``path:line: …`` for each import inside a function of a module the file imports at its top."""
    at_top = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            at_top.add(imported_module(node, path, root))
        elif isinstance(node, ast.Import):
            at_top.update(alias.name for alias in node.names)
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                modules = [imported_module(node, path, root)]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module in at_top:
                    yield (f"{path.relative_to(root)}:{node.lineno}: {function.name}() imports {module}, which the "
                           "file already imports at its top")


def violations(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Every violation of the two rules in the packages under ``root``, as ``path:line: message``."""
    problems = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            problems += [*private_imports(path, tree, root), *redundant_function_imports(path, tree, root)]
    return problems


def main() -> int:
    """Check every module of the library and the edges; exit 1 on any violation."""
    problems = violations(ROOT)
    for problem in problems:
        print(problem)
    print(f"import rules: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

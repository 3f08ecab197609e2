"""Print the largest modules and functions of the library and the edges, against DESIGN.md §3's limits.

    python scripts/code_shape.py [--top N] [--check]

Modules over 400 lines and functions over 80 lines are marked; with --check the exit code is 1 when any is found.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_LIMIT = 400
FUNCTION_LIMIT = 80


def measure(roots: list[str]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, module) for every module and (lines, module:line name()) for every function under the roots."""
    modules, functions = [], []
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            rel = path.relative_to(ROOT).as_posix()
            modules.append((source.count("\n"), rel))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((node.end_lineno - node.lineno + 1, f"{rel}:{node.lineno} {node.name}()"))
    return sorted(modules, reverse=True), sorted(functions, reverse=True)


def main() -> int:
    """Print the tables; with --check, fail when a limit is passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--check", action="store_true", help="exit 1 when a module or function is over its limit")
    args = parser.parse_args()
    modules, functions = measure(["pipeline", "flows"])
    over = 0
    print(f"largest modules (limit {MODULE_LIMIT} lines), of {len(modules)}:")
    for lines, name in modules[: args.top]:
        mark = "  OVER" if lines > MODULE_LIMIT else ""
        over += bool(mark)
        print(f"  {lines:5d}  {name}{mark}")
    print(f"longest functions (limit {FUNCTION_LIMIT} lines), of {len(functions)}:")
    for lines, name in functions[: args.top]:
        mark = "  OVER" if lines > FUNCTION_LIMIT else ""
        over += bool(mark)
        print(f"  {lines:5d}  {name}{mark}")
    over += sum(1 for lines, _ in modules[args.top:] if lines > MODULE_LIMIT)
    over += sum(1 for lines, _ in functions[args.top:] if lines > FUNCTION_LIMIT)
    print(f"over the limits: {over}")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())

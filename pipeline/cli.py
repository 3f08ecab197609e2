"""The `dossier` command: process, fetch, verify and operate; each area adds its commands from its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="dossier",
    help="Scan-to-dossier: raw scans of case files in, signed PDF/A volumes out.",
    no_args_is_help=True,
    add_completion=False,
)

# Each module exposes register(app: typer.Typer) -> None and adds its own commands.
COMMAND_MODULES = ("pipeline.cli_store", "pipeline.cli_structure", "pipeline.cli_archival")

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":
    app()

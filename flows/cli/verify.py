"""`dossier verify`: the four-property check of a volume PDF or a local dossier folder, as a table and report.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flows.cli._common import DevelopmentKeyOption, app, layout, object_store, stop, use_development_key
from flows.cli.fetch import trust_roots
from pipeline.archival import (
    PROPERTIES,
    check_dossier,
    check_volume,
    declared_pdfa_level,
    make_report,
    qpdf_cli_checks,
    read_xmp,
)
from pipeline.errors import DossierError, ExitCode
from pipeline.models import Report

PROPERTY_NAMES = {"authenticity": "真实性 authenticity", "completeness": "完整性 completeness",
                  "usability": "可用性 usability", "security": "安全性 security"}


def verify_folder(folder: Path, trust_roots: list[Path]) -> Report:
    """Check a local dossier folder; the seam for verifying a case fetched from the store into a folder."""
    return check_dossier(folder, trust_roots)


def verify_volume(path: Path, trust_roots: list[Path], level: str | None = None) -> Report:
    """Check one volume PDF; the PDF/A level defaults to what its XMP declares."""
    import pikepdf

    case_no = ""
    try:
        with pikepdf.open(path) as pdf:
            xmp = read_xmp(pdf)
        case_no = xmp.get("dossier:caseNumber", "")
        level = level or declared_pdfa_level(xmp)
    except pikepdf.PdfError:
        level = level or "1b"
    return make_report(case_no, check_volume(path, level, trust_roots))


def verify_target(target: Path, trust_roots: list[Path], level: str | None = None, qpdf: bool = True) -> Report:
    """Check a volume PDF or a dossier folder; with ``qpdf`` also run the `qpdf --check` command on every volume."""
    report = verify_folder(target, trust_roots) if target.is_dir() else verify_volume(target, trust_roots, level)
    if not qpdf:
        return report
    volumes = ([(p.relative_to(target).as_posix(), p) for p in sorted((target / "volumes").glob("*.pdf"))]
               if target.is_dir() else [(target.name, target)])
    return make_report(report.case_no, report.checks + qpdf_cli_checks(volumes), report.checked_at)


def render_report(report: Report, console: Console) -> None:
    """Print a report as a table of checks and a verdict per property."""
    table = Table(title=f"四性检测 {report.case_no}".strip(), show_lines=False)
    for col in ("property", "check", "subject", "result", "detail"):
        table.add_column(col, overflow="fold")
    order = {p: i for i, p in enumerate(PROPERTIES)}
    for c in sorted(report.checks, key=lambda c: (order[c.property], c.passed)):
        table.add_row(c.property, c.name, c.subject, "[green]pass[/]" if c.passed else "[bold red]FAIL[/]",
                      c.detail)
    console.print(table)
    for prop in PROPERTIES:
        verdict = getattr(report.summary, prop)
        mark = "[green]pass[/]" if verdict.passed else f"[bold red]FAIL[/] ({len(verdict.failures)})"
        console.print(f"{PROPERTY_NAMES[prop]}: {mark}")
    console.print("[bold green]PASSED[/]" if report.summary.passed else "[bold red]FAILED[/]")


def fetch_for_verify(case_no: str, state: Path | None, into: Path) -> Path:
    """Download a case's dossier from the store (hashes checked on the way) into a folder to verify."""
    from pipeline.storage import fetch_dossier

    try:
        return fetch_dossier(object_store(state), case_no, into)
    except DossierError as exc:
        raise typer.BadParameter(f"{case_no!r} is not a file or folder, and fetching it as a case failed: {exc}") \
            from exc


@app.command("verify")
def verify(
    target: Annotated[str, typer.Argument(help="a volume PDF, a local dossier folder (dossier.json, volumes/), or a "
                                           "case number in the object store")],
    trust_root: Annotated[list[Path] | None, typer.Option("--trust-root", help="trusted signer certificate or CA "
                                                          "(PEM/DER); repeatable")] = None,
    level: Annotated[str | None, typer.Option("--level", help="PDF/A level of a single volume: 1b or 2b "
                                              "(default: as its XMP declares)")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="write report.json here")] = None,
    qpdf: Annotated[bool, typer.Option("--qpdf/--no-qpdf", help="also run the `qpdf --check` command")] = True,
    state: Annotated[Path | None, typer.Option("--state", help="state folder (store credentials, development "
                                               "certificate; default $DOSSIER_HOME, else ./.state)")] = None,
    development_key: DevelopmentKeyOption = False,
) -> None:
    """Check authenticity, completeness, usability and security (DA/T 70 四性); exit 6 if any check fails.

    Signatures must chain to --trust-root, else $DOSSIER_TRUST_ROOTS, else (with --development-key) the
    development certificate."""
    import tempfile

    use_development_key(development_key)
    if level not in (None, "1b", "2b"):
        raise typer.BadParameter("--level must be 1b or 2b")
    layout(state)
    roots = trust_roots(trust_root or [], state)
    for root in roots:
        if not root.is_file():
            raise typer.BadParameter(f"trust root {root} is not a file")
    path = Path(target)
    with tempfile.TemporaryDirectory(prefix="dossier-verify-") as tmp:
        if not path.exists():
            path = fetch_for_verify(target, state, Path(tmp))
        report = verify_target(path, roots, level, qpdf=qpdf)
    render_report(report, Console())
    if json_path:
        json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    if not report.summary.passed:
        stop(ExitCode.VERIFICATION_FAILED)

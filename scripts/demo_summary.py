"""Print the demo's summary of a fetched dossier and exit non-zero unless every check passed.

    python scripts/demo_summary.py CASE_NO OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.cli.fetch import case_folder_name
from flows.cli.verify import verify_target
from pipeline.dossier import trust_roots_for_run
from pipeline.models import DossierManifest
from pipeline.settings import Settings


def main(case_no: str, out: Path) -> int:
    """Check the fetched dossier and print the summary; returns the exit code."""
    folder = out / case_folder_name(case_no)
    manifest = DossierManifest.model_validate_json((folder / "dossier.json").read_text(encoding="utf-8"))
    settings = Settings.load()
    report = verify_target(folder, trust_roots_for_run(settings.signing, settings.layout().signing), qpdf=True)

    def verdict(names: set[str]) -> str:
        relevant = [c for c in report.checks if c.name in names]
        if not relevant:
            return "[yellow]not checked[/yellow]"
        return "[green]passed[/green]" if all(c.passed for c in relevant) else "[red]FAILED[/red]"

    table = Table(title="scan-to-dossier demo", show_header=False)
    table.add_row("case", f"{manifest.case_no}  ({manifest.case_title})")
    table.add_row("volumes", str(len(manifest.volumes)))
    table.add_row("pages", f"{sum(v.pages for v in manifest.volumes)} numbered, "
                           f"{sum(p.blank for p in manifest.pages)} blank, {len(manifest.pages)} scanned")
    table.add_row("documents", "、".join(d.title for d in manifest.documents))
    table.add_row("output", str(folder))
    level = manifest.volumes[0].pdfa
    table.add_row("PDF/A", verdict({f"pdfa-{level}", "pdfa-identification", "structure", "qpdf-check"})
                  + f" (PDF/A-{level}: PDFBox Preflight and qpdf --check, after signing)")
    table.add_row("signature", verdict({"signature", "signature-coverage", "signer-trusted", "certificate-expiry"})
                  + " (PAdES: intact, valid, trusted, covers the entire file)")
    for prop in ("authenticity", "completeness", "usability", "security"):
        v = getattr(report.summary, prop)
        table.add_row(prop, "[green]passed[/green]" if v.passed else f"[red]FAILED[/red] {'; '.join(v.failures)}")
    if any(v.signature and v.signature.development_key for v in manifest.volumes):
        table.add_row("note", "[yellow]signed with the generated DEVELOPMENT key — not for production[/yellow]")
    Console().print(table)
    return 0 if report.summary.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))

"""`dossier sheets`: print separator sheets (a batch cover and one sheet per document) to put in before scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli._common import app, err, reported
from pipeline.errors import BadInputError


@app.command("sheets")
def sheets(
    case: Annotated[str, typer.Option("--case", help="案号, e.g. （2019）豫0727刑初172号")],
    out: Annotated[Path, typer.Option("--out", help="PDF file to write")],
    source: Annotated[Path | None, typer.Option(
        "--from", help="YAML (or batch.json) with the documents: title, doc_no, author, date, pages")] = None,
    title: Annotated[str, typer.Option("--title", help="案件名称 (default: case_title in the file)")] = "",
    agency: Annotated[str, typer.Option("--agency", help="立卷单位 (default: agency in the file)")] = "",
    blank: Annotated[int, typer.Option("--blank", min=0, help="extra document sheets with no fields "
                                                              "(titles are then read from the pages)")] = 0,
) -> None:
    """Print separator sheets: a batch cover, one sheet per listed document, and --blank generic ones."""
    with reported():
        from pipeline.assembly import load_sheet_list, sheet_payloads, write_sheets  # loaded when used: ~2 s

        documents, case_fields = load_sheet_list(source) if source else ([], {})
        if case_fields.get("case_no") and case_fields["case_no"] != case:
            raise BadInputError(f"--case {case} differs from the case number {case_fields['case_no']} in {source}")
        payloads = sheet_payloads(case, [*documents, *({} for _ in range(blank))],
                                  title or case_fields.get("case_title", ""), agency or case_fields.get("agency", ""))
        write_sheets(payloads, out)
    err.print(f"{out}: batch cover and {len(payloads) - 1} document sheet(s) for {case}")

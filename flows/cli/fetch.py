"""`dossier fetch`: a dossier by case number, from the store or the fetch service, every file verified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.cli._common import (
    DevelopmentKeyOption,
    StateOption,
    app,
    console,
    layout,
    object_store,
    reported,
    settings,
    use_development_key,
)
from flows.cli.access import admin_audit
from pipeline.errors import DossierError, VerificationError


def trust_roots(given: list[Path], state: Path | None) -> list[Path]:
    """Certificates signatures must chain to: --trust-root, else $DOSSIER_TRUST_ROOTS, else — with
    --development-key (DOSSIER_DEVELOPMENT_KEY=1) and no key configured — the state folder's development
    certificate; else none, and no signature is trusted."""
    from pipeline.dossier import trust_roots_for_run

    return list(given) or trust_roots_for_run(settings().signing, layout(state).signing)


def volume_verifier(roots: list[Path]) -> Callable[[Path], None]:
    """The signature check run on each fetched volume: intact, valid, covering the entire file, and chaining to the
    trust roots."""
    import logging

    from pipeline.archival import validate_signature

    # pyHanko logs every failed path search with a traceback; the verdict below says it in one line
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

    def verify(path: Path) -> None:
        check = validate_signature(path, roots)
        if not check.passed:
            raise VerificationError(
                f"{path.name}: signature check failed (intact={check.intact}, valid={check.valid}, "
                f"trusted={check.trusted}, coverage={check.coverage})"
                f"{': ' + '; '.join(check.errors) if check.errors else ''}")

    return verify


@app.command("fetch")
def fetch(case_no: Annotated[str, typer.Argument(help="案号")],
          out: Annotated[Path, typer.Option("--out", help="folder; the dossier lands in OUT/<case-key>/")],
          server: Annotated[Optional[str], typer.Option(help="fetch service URL instead of the store")] = None,
          token: Annotated[Optional[str], typer.Option(envvar="DOSSIER_TOKEN", help="bearer token for --server")]
          = None,
          version: Annotated[Optional[str], typer.Option(help="manifest version id (default latest)")] = None,
          verify_signatures: Annotated[bool, typer.Option(help="check each volume's signature")] = True,
          trust_root: Annotated[Optional[list[Path]], typer.Option(
              "--trust-root", help="PEM certificate signatures must chain to (repeatable)")] = None,
          state: StateOption = None, development_key: DevelopmentKeyOption = False) -> None:
    """Fetch a dossier by case number and verify every file against its manifest."""
    use_development_key(development_key)
    from pipeline.storage import case_key, fetch_dossier, fetch_via_server, normalise_case_no

    verify = volume_verifier(trust_roots(trust_root or [], state)) if verify_signatures else None
    with reported():
        if server:
            if not token:
                raise DossierError("--server needs --token (or DOSSIER_TOKEN)")
            folder = fetch_via_server(server, token, case_no, out, verify, version_id=version)
        else:
            store = object_store(state)
            folder = fetch_dossier(store, case_no, out, verify, version_id=version)
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            admin_audit(store, action="fetch", case_no=normalise_case_no(case_no), case_key=case_key(case_no),
                        result="allowed", detail=f"direct fetch to {folder}", bytes=size)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    console.print(f"fetched {len(files)} files into {folder}, every SHA-256 matches the manifest"
                  + ("" if verify else " (signatures not checked)"), highlight=False)

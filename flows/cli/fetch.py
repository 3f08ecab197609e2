"""`dossier fetch`: a dossier by case number, from the store or the fetch service, every file verified.

The dossier lands in ``OUT/<case number>/`` — the case number as people write it, e.g. ``out/（2024）豫0727刑初172号/``
(see :func:`case_folder_name`) — built in a hidden folder beside it and swapped in only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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
from flows.cli.access import AdminAudit
from pipeline.errors import DossierError, VerificationError

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def case_folder_name(case_no: str) -> str:
    """The folder a fetched dossier lands in: the normalised case number with full-width brackets, as courts print
    it. Any spelling of a case gives the same name and two cases never share one (normalisation already refuses
    path separators, control characters, '..' and a leading '.'; full-width brackets never occur in a normalised
    number, so putting them back is reversible); a trailing '.' and Windows' reserved device names are escaped."""
    from pipeline.storage import normalise_case_no

    name = normalise_case_no(case_no).replace("(", "（").replace(")", "）")
    if name.endswith("."):
        name = name[:-1] + "．"
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    return name


def fetch_into(out: Path, case_no: str, fetch: Callable[[Path], Path]) -> Path:
    """Run ``fetch(staging)`` (which fills ``staging/<case-key>/``) and move the result to ``out/<case folder>/``,
    replacing an earlier fetch only once the new one is complete."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / case_folder_name(case_no)
    staging = Path(tempfile.mkdtemp(prefix=".fetching-", dir=out))
    try:
        fetched = fetch(staging)
        if final.exists():  # the earlier fetch goes into the staging folder, removed below
            os.replace(final, staging / "replaced")
        os.replace(fetched, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
          out: Annotated[Path, typer.Option("--out", help="folder; the dossier lands in OUT/<case number>/")],
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
    from pipeline.storage import case_key, fetch_dossier, fetch_via_server, load_manifest, normalise_case_no

    verify = volume_verifier(trust_roots(trust_root or [], state)) if verify_signatures else None
    with reported():
        if server:
            if not token:
                raise DossierError("--server needs --token (or DOSSIER_TOKEN)")
            folder = fetch_into(out, case_no, lambda into: fetch_via_server(server, token, case_no, into, verify,
                                                                            version_id=version))
        else:
            store = object_store(state)
            ref = load_manifest(store, case_no, version)
            with AdminAudit(store, state) as audit:  # recorded before a volume is read; voided if the fetch fails
                audit(action="fetch", case_no=normalise_case_no(case_no), case_key=case_key(case_no),
                      result="allowed", detail=f"direct fetch from the store into {out}",
                      manifest_version=ref.version_id, bytes=sum(v.bytes for v in ref.manifest.volumes))
                folder = fetch_into(out, case_no, lambda into: fetch_dossier(store, case_no, into, verify,
                                                                             version_id=ref.version_id))
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    console.print(f"fetched {len(files)} files into {folder}, every SHA-256 matches the manifest"
                  + ("" if verify else " (signatures not checked)"), highlight=False)

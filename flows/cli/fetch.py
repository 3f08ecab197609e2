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
    from pipeline.storage import normalise_case_no, printed_case_no

    name = printed_case_no(normalise_case_no(case_no))
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


def copy_check(path: Path, expected: str) -> None:
    """A fetched copy records in its XMP the volume it was made from: it must be the one the manifest names."""
    from pipeline.dossier import read_copy

    source = read_copy(path).get("copySourceSha256", "")
    if source != expected.lower():
        raise VerificationError(f"{path.name}: the copy says it was made from a volume with SHA-256 "
                                f"{source or '(none)'}, the manifest names {expected}")


@app.command("fetch")
def fetch(case_no: Annotated[str, typer.Argument(help="案号")],
          out: Annotated[Path, typer.Option("--out", help="folder; the dossier lands in OUT/<case number>/")],
          server: Annotated[Optional[str], typer.Option(help="fetch service URL instead of the store")] = None,
          token: Annotated[Optional[str], typer.Option(envvar="DOSSIER_TOKEN", help="bearer token for --server")]
          = None,
          version: Annotated[Optional[str], typer.Option(help="manifest version id (default latest)")] = None,
          copy: Annotated[str, typer.Option("--copy", help="original (原件) or disclosure (阅卷版): with --server, the "
                                            "copy released to you")] = "original",
          profile: Annotated[str, typer.Option("--profile", help="the disclosure copy to fetch from the store "
                                               "(lawyer, public, agency)")] = "lawyer",
          verify_signatures: Annotated[bool, typer.Option(help="check each volume's signature")] = True,
          trust_root: Annotated[Optional[list[Path]], typer.Option(
              "--trust-root", help="PEM certificate signatures must chain to (repeatable)")] = None,
          state: StateOption = None, development_key: DevelopmentKeyOption = False) -> None:
    """Fetch a dossier (or its disclosure copy, --copy disclosure) by case number and verify every file against its
    manifest; volumes fetched through the service arrive marked for you and certified by it."""
    use_development_key(development_key)
    if copy not in ("original", "disclosure"):
        raise typer.BadParameter("--copy must be original or disclosure")
    verify = volume_verifier(trust_roots(trust_root or [], state)) if verify_signatures else None
    with reported():
        if server:
            if not token:
                raise DossierError("--server needs --token (or DOSSIER_TOKEN)")
            from pipeline.storage import fetch_via_server

            folder = fetch_into(out, case_no, lambda into: fetch_via_server(
                server, token, case_no, into, verify, version_id=version, copy_check=copy_check,
                disclosure=copy == "disclosure"))
        else:
            folder = _from_store(case_no, out, version, copy, profile, verify, state)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    console.print(f"fetched {len(files)} files into {folder}, every SHA-256 matches the manifest"
                  + ("" if verify else " (signatures not checked)"), highlight=False)


def _from_store(case_no: str, out: Path, version: str | None, copy: str, profile: str, verify, state) -> Path:
    """An administrator's fetch straight from the store (audited before a volume is read, voided if it fails)."""
    from pipeline.storage import case_key, fetch_disclosure, fetch_dossier, load_manifest, normalise_case_no

    store = object_store(state)
    ref = load_manifest(store, case_no, version)
    with AdminAudit(store, state) as audit:
        audit(action="fetch", case_no=normalise_case_no(case_no), case_key=case_key(case_no), result="allowed",
              detail=f"direct fetch of the {'original' if copy == 'original' else profile + ' copy'} from the store "
                     f"into {out}", manifest_version=ref.version_id, bytes=sum(v.bytes for v in ref.manifest.volumes))
        if copy == "disclosure":
            return fetch_into(out, case_no, lambda into: fetch_disclosure(store, case_no, profile, into, verify))
        return fetch_into(out, case_no, lambda into: fetch_dossier(store, case_no, into, verify,
                                                                   version_id=ref.version_id))

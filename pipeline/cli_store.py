"""`dossier` commands for the object store, the fetch service, tokens, grants, the audit log and fetching.

The state folder is ``--state DIR``, else ``$DOSSIER_HOME``, else ``./.state``. The store is configured by the
``DOSSIER_S3_*`` variables (:mod:`pipeline.store`), else the embedded store of the state folder is used. Changes to
tokens and grants and fetches made with administrator credentials are recorded in the audit log too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import DossierError, VolumeError

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StateOpt = Annotated[Path, typer.Option("--state", envvar="DOSSIER_HOME", help="state folder (default ./.state)",
                                        show_default=False)]
DEFAULT_STATE = Path(".state")


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _store(state: Path):
    from pipeline.store import ObjectStore, StoreConfig

    return ObjectStore(StoreConfig.from_env(state))


def _admin_audit(store, **fields) -> None:
    """Record an administrative action in a CLI audit stream (the command fails if it cannot be recorded)."""
    from pipeline.audit import AuditLog

    log = AuditLog(store, kind="cli")
    entry = {"actor": f"cli:{os.environ.get('USER', '?')}", "agency": "-", "status": 0, "bytes": 0, **fields}
    try:
        log.record_and_wait(**entry)
    finally:
        log.close()


def _volume_verifier(enabled: bool, state: Path, trust_roots: list[Path]) -> Callable[[Path], None] | None:
    """The signature check run on each fetched volume: intact, valid, covering the entire file, and chaining to the
    trust roots (--trust-root, else $DOSSIER_TRUST_ROOTS, else the state folder's development certificate)."""
    if not enabled:
        return None
    import logging

    from pipeline.dossier import trust_roots_for_run
    from pipeline.sign import validate_signature

    # pyHanko logs every failed path search with a traceback; the verdict below says it in one line
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    roots = list(trust_roots) or trust_roots_for_run(state)

    def verify(path: Path) -> None:
        check = validate_signature(path, roots)
        if not check.passed:
            raise VolumeError(
                f"{path.name}: signature check failed (intact={check.intact}, valid={check.valid}, "
                f"trusted={check.trusted}, coverage={check.coverage}){': ' + '; '.join(check.errors) if check.errors else ''}"
            )

    return verify


def register(app: typer.Typer) -> None:
    """Add the store, serve, token, grant, revoke-grant, audit and fetch commands to the ``dossier`` app."""
    store_app = typer.Typer(help="Run the embedded object store (SeaweedFS on 127.0.0.1).", no_args_is_help=True)
    token_app = typer.Typer(help="Bearer tokens of requesting agencies.", no_args_is_help=True)
    audit_app = typer.Typer(help="The access audit log.", no_args_is_help=True)
    app.add_typer(store_app, name="store")
    app.add_typer(token_app, name="token")
    app.add_typer(audit_app, name="audit")

    @store_app.command("start")
    def store_start(state: StateOpt = DEFAULT_STATE,
                    port: Annotated[Optional[int], typer.Option(
                        envvar="DOSSIER_STORE_PORT",
                        help="base port: S3 on it, filer/master/volume/admin on +1..+4, gRPC on +10000")] = None,
                    bucket: Annotated[Optional[str], typer.Option(envvar="DOSSIER_S3_BUCKET")] = None,
                    timeout: float = 60.0) -> None:
        """Start the embedded store and wait until S3 answers; creates credentials and the bucket on first start."""
        from pipeline.storeserver import EmbeddedStore

        try:
            status = EmbeddedStore(state, base_port=port, bucket=bucket).start(timeout=timeout)
        except DossierError as exc:
            _fail(exc)
        console.print(f"running  pid {status.pid}  endpoint http://{status.endpoint}  bucket {status.bucket}  "
                      f"state {status.state_dir}", highlight=False)

    @store_app.command("stop")
    def store_stop(state: StateOpt = DEFAULT_STATE,
                   timeout: Annotated[float, typer.Option(help="seconds to wait after SIGTERM before SIGKILL")] = 60.0
                   ) -> None:
        """Stop the embedded store (SIGTERM, then SIGKILL after the timeout)."""
        from pipeline.storeserver import EmbeddedStore

        try:
            stopped = EmbeddedStore(state).stop(timeout=timeout)
        except DossierError as exc:
            _fail(exc)
        console.print("stopped" if stopped else "not running")

    @store_app.command("status")
    def store_status(state: StateOpt = DEFAULT_STATE) -> None:
        """Say whether the embedded store runs, with its endpoint, bucket and pid (exit 1 when not running)."""
        from pipeline.storeserver import EmbeddedStore

        status = EmbeddedStore(state).status()
        word = "running" if status.running else "not running"
        console.print(f"{word}  pid {status.pid or '-'}  endpoint http://{status.endpoint}  bucket {status.bucket}  "
                      f"answering {'yes' if status.answering else 'no'}  state {status.state_dir}", highlight=False)
        if not status.running:
            raise typer.Exit(1)

    @app.command("serve")
    def serve(state: StateOpt = DEFAULT_STATE, host: str = "127.0.0.1", port: int = 8080,
              presign_seconds: Annotated[int, typer.Option(
                  help="redirect volume downloads to presigned URLs valid this long (0 = stream through)")] = 0,
              cache_ttl: Annotated[float, typer.Option(help="seconds token/grant records are cached")] = 5.0,
              access_log: Annotated[bool, typer.Option(
                  help="also log each request to stderr (the audit log records every request anyway)")] = False,
              workers: Annotated[int, typer.Option(help="worker processes (each keeps its own audit stream)")] = 1
              ) -> None:
        """Run the requesters' fetch API (FastAPI + uvicorn); OpenAPI at /docs."""
        import uvicorn

        from pipeline.api import create_app
        from pipeline.store import StoreConfig

        try:
            app_ = create_app(StoreConfig.from_env(state), cache_ttl=cache_ttl, presign_seconds=presign_seconds)
        except DossierError as exc:
            _fail(exc)
        if workers > 1:  # uvicorn starts the workers from an import string; they read the same settings from env
            os.environ.update(DOSSIER_HOME=str(state.resolve()), DOSSIER_API_CACHE_TTL=str(cache_ttl),
                              DOSSIER_API_PRESIGN_SECONDS=str(presign_seconds))
            uvicorn.run("pipeline.api:app_from_env", factory=True, workers=workers, host=host, port=port,
                        log_level="info", access_log=access_log)
            return
        uvicorn.run(app_, host=host, port=port, log_level="info", access_log=access_log)

    @token_app.command("create")
    def token_create(agency: Annotated[str, typer.Option(help="requesting agency, e.g. 新封县人民检察院")],
                     label: str = "", state: StateOpt = DEFAULT_STATE) -> None:
        """Create a token for an agency; the token is printed once, alone on the last line."""
        from pipeline.auth import TokenStore

        try:
            store = _store(state)
            token, record = TokenStore(store).create(agency, label)
            _admin_audit(store, action="token.create", target=record.id, detail=f"agency={record.agency}")
        except DossierError as exc:
            _fail(exc)
        console.print(f"token {record.id} for {record.agency} created; it is not stored, keep it now:",
                      highlight=False)
        print(token)

    @token_app.command("list")
    def token_list(state: StateOpt = DEFAULT_STATE) -> None:
        """List tokens (ids, agencies, created, revoked), never their secrets."""
        from pipeline.auth import TokenStore

        try:
            records = TokenStore(_store(state)).list()
        except DossierError as exc:
            _fail(exc)
        table = Table("id", "agency", "label", "created", "revoked")
        for r in records:
            table.add_row(r.id, r.agency, r.label, r.created, r.revoked or "")
        console.print(table)

    @token_app.command("revoke")
    def token_revoke(token_id: Annotated[str, typer.Argument(help="token id (or the token itself)")],
                     state: StateOpt = DEFAULT_STATE) -> None:
        """Revoke a token (effective on every service instance within its cache time)."""
        from pipeline.auth import TokenStore

        try:
            store = _store(state)
            record = TokenStore(store).revoke(token_id)
            _admin_audit(store, action="token.revoke", target=record.id, detail=f"agency={record.agency}")
        except DossierError as exc:
            _fail(exc)
        console.print(f"token {record.id} of {record.agency} revoked at {record.revoked}", highlight=False)

    def _change_grant(case_no: str, agency: str, revoke: bool, state: Path) -> None:
        from pipeline.auth import GrantStore
        from pipeline.casekey import case_key, normalise_case_no

        try:
            store = _store(state)
            grants = GrantStore(store)
            record = grants.revoke(case_no, agency) if revoke else grants.grant(case_no, agency)
            _admin_audit(store, action="grant.revoke" if revoke else "grant.add", case_no=normalise_case_no(case_no),
                         case_key=case_key(case_no), detail=f"agency={agency}")
        except DossierError as exc:
            _fail(exc)
        console.print(f"case {record.case_no}: granted {', '.join(sorted(record.granted)) or '-'}; "
                      f"revoked {', '.join(sorted(record.revoked)) or '-'}", highlight=False)

    @app.command("grant")
    def grant(case_no: Annotated[str, typer.Argument(help="案号")],
              agency: Annotated[str, typer.Option(help="agency to give access")],
              revoke: Annotated[bool, typer.Option("--revoke", help="take the access away instead")] = False,
              state: StateOpt = DEFAULT_STATE) -> None:
        """Let an agency fetch a case (in addition to the manifest's grants and the owning agency)."""
        _change_grant(case_no, agency, revoke, state)

    @app.command("revoke-grant")
    def revoke_grant(case_no: Annotated[str, typer.Argument(help="案号")],
                     agency: Annotated[str, typer.Option(help="agency to take access from")],
                     state: StateOpt = DEFAULT_STATE) -> None:
        """Take an agency's access to a case away, even one granted by the manifest (never the owner's)."""
        _change_grant(case_no, agency, True, state)

    @audit_app.command("verify")
    def audit_verify(state: StateOpt = DEFAULT_STATE) -> None:
        """Check the audit log's hash chains and object history; exit 1 on any problem."""
        from pipeline.audit import verify_audit

        try:
            report = verify_audit(_store(state))
        except DossierError as exc:
            _fail(exc)
        for problem in report.problems:
            err.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
        console.print(f"{'OK' if report.ok else 'FAILED'}: {report.streams} streams, {report.segments} segments, "
                      f"{report.entries} entries, {len(report.problems)} problems", highlight=False)
        if not report.ok:
            raise typer.Exit(1)

    @audit_app.command("show")
    def audit_show(state: StateOpt = DEFAULT_STATE,
                   case_no: Annotated[Optional[str], typer.Option("--case", help="only this case")] = None,
                   agency: Annotated[Optional[str], typer.Option(help="only this agency")] = None,
                   limit: Annotated[int, typer.Option(help="last N entries")] = 50,
                   as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False) -> None:
        """Show the latest audit entries (all streams merged by time)."""
        from pipeline.audit import read_audit
        from pipeline.auth import normalise_agency
        from pipeline.casekey import normalise_case_no

        try:
            entries = list(read_audit(_store(state)))
            if case_no:
                wanted = normalise_case_no(case_no)
                entries = [e for e in entries if e.get("case_no") == wanted]
            if agency:
                wanted_agency = normalise_agency(agency)
                entries = [e for e in entries if e.get("agency") == wanted_agency]
        except DossierError as exc:
            _fail(exc)
        entries = entries[-limit:] if limit > 0 else entries
        if as_json:
            for e in entries:
                print(json.dumps(e, ensure_ascii=False))
            return
        table = Table("time", "agency", "actor", "action", "case", "status", "result", "bytes")
        for e in entries:
            table.add_row(str(e.get("ts", ""))[:23], str(e.get("agency", "")), str(e.get("actor", "")),
                          str(e.get("action") or f"{e.get('method', '')} {e.get('path', '')}"),
                          str(e.get("case_no", "")), str(e.get("status", "")), str(e.get("result", "")),
                          str(e.get("bytes", "")))
        console.print(table)

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
              state: StateOpt = DEFAULT_STATE) -> None:
        """Fetch a dossier by case number and verify every file against its manifest."""
        from pipeline.casekey import case_key, normalise_case_no
        from pipeline.store import fetch_dossier, fetch_via_server

        verify = _volume_verifier(verify_signatures, state, trust_root or [])
        try:
            if server:
                if not token:
                    raise DossierError("--server needs --token (or DOSSIER_TOKEN)")
                folder = fetch_via_server(server, token, case_no, out, verify, version_id=version)
            else:
                store = _store(state)
                folder = fetch_dossier(store, case_no, out, verify, version_id=version)
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                _admin_audit(store, action="fetch", case_no=normalise_case_no(case_no), case_key=case_key(case_no),
                             result="allowed", detail=f"direct fetch to {folder}", bytes=size)
        except DossierError as exc:
            _fail(exc)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        console.print(f"fetched {len(files)} files into {folder}, every SHA-256 matches the manifest"
                      + ("" if verify else " (signatures not checked)"), highlight=False)


if __name__ == "__main__":
    _app = typer.Typer(no_args_is_help=True)
    register(_app)
    _app()

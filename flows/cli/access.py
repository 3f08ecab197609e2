"""`dossier serve`, `token`, `grant`, `revoke-grant` and `audit`: the requesters' side and its records.

Tokens and grants live in the access database (DOSSIER_DB_URL, else ``<state>/access.db``), which every command
brings up to date first. A change to tokens, grants or users takes effect only once its entry is in the audit log (a
CLI stream): the entry is written inside the change's database transaction, before it commits; when the entry
cannot be stored nothing changes, and a commit that fails after it is voided by an ``admin.void`` entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Column, Table

from flows.cli._common import (
    StateOption,
    app,
    command_actor,
    console,
    err,
    layout,
    object_store,
    reported,
    settings,
    stop,
)
from pipeline.errors import BadInputError, ExitCode

token_app = typer.Typer(help="Bearer tokens of requesting agencies.", no_args_is_help=True)
audit_app = typer.Typer(help="The access audit log.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")


def open_database(state: Path | None, store=None):
    """The access database of the settings (else the state folder's), migrated; ``store`` is where the first
    migration takes earlier tokens and grants over from (default: the configured object store)."""
    from flows.service import open_database as open_db

    return open_db(settings(), layout(state).root, store or object_store(state))


class AdminAudit:
    """The audit of one administrative command (:class:`pipeline.access.AuditFirst` on a CLI stream):
    ``audit(action=…)`` is the change's before-commit hook (it stores the entry and waits; when it cannot, the
    change's transaction rolls back); leaving the block after a failure that followed a stored entry records an
    ``admin.void`` entry naming it."""

    def __init__(self, store, state: Path | None):
        from pipeline.access import AuditFirst, AuditLog, audit_key

        self.act = AuditFirst(AuditLog(store, audit_key(open_database(state, store)), kind="cli"), _admin_void)

    def __call__(self, **fields) -> None:
        self.act.announce(**{"actor": command_actor(), "agency": "-", "status": 0, "bytes": 0, "result": "ok",
                             **fields})

    def __enter__(self) -> AdminAudit:
        self.act.__enter__()
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self.act.__exit__(kind, exc, tb)


def _admin_void(announced: dict, failure: str) -> dict:
    return {"actor": announced["actor"], "agency": "-", "status": 0, "bytes": 0, "result": "void",
            "action": "admin.void", "voids": announced["hash"], "target": announced.get("target", ""),
            "detail": f"not committed: {failure}"}


@app.command("serve")
def serve(state: StateOption = None, host: str = "127.0.0.1", port: int = 8080,
          presign_seconds: Annotated[Optional[int], typer.Option(
              help="redirect volume downloads to presigned URLs valid this long (0 = stream through; "
                   "default $DOSSIER_API_PRESIGN_SECONDS)")] = None,
          cache_ttl: Annotated[Optional[float], typer.Option(
              help="seconds token/grant records are cached (default $DOSSIER_API_CACHE_TTL, else 5)")] = None,
          access_log: Annotated[bool, typer.Option(
              help="also log each request to stderr (the audit log records every request anyway)")] = False,
          workers: Annotated[int, typer.Option(help="worker processes (each keeps its own audit stream)")] = 1,
          certfile: Annotated[Optional[Path], typer.Option(
              help="serve HTTPS with this certificate chain (PEM; default $DOSSIER_TLS_CERTFILE)")] = None,
          keyfile: Annotated[Optional[Path], typer.Option(
              help="the certificate's private key (PEM; default $DOSSIER_TLS_KEYFILE)")] = None,
          ) -> None:
    """Run the fetch API, request API and web pages (FastAPI + uvicorn); OpenAPI at /docs, pages at /web/. With a
    certificate and key it serves HTTPS only (session cookies then always Secure)."""
    import uvicorn

    from flows.service import create_service, export_for_workers, settle_heap, tls_files

    service = settings().service
    home = layout(state).root
    ttl = service.api_cache_ttl if cache_ttl is None else cache_ttl
    presign = service.api_presign_seconds if presign_seconds is None else presign_seconds
    with reported():
        tls = tls_files(certfile or service.tls_certfile, keyfile or service.tls_keyfile)
        application = create_service(settings(), home, ttl, presign, tls=tls is not None)
    ssl = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    if workers > 1:  # uvicorn starts the workers from an import string; they read the same settings from env
        export_for_workers(home, ttl, presign, tls)
        uvicorn.run("flows.service:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level="info", access_log=access_log, **ssl)
        return
    settle_heap()
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=access_log, **ssl)


@token_app.command("create")
def token_create(agency: Annotated[str, typer.Option(help="requesting agency, e.g. 新封县人民检察院")],
                 label: str = "",
                 role: Annotated[Optional[list[str]], typer.Option(
                     "--role", help="clerk, reviewer, approver, registrar or admin (repeatable); none: read only")]
                 = None,
                 days: Annotated[Optional[int], typer.Option(
                     help="valid this many days (default $DOSSIER_TOKEN_DAYS, else 365); every token expires",
                     min=1)] = None,
                 user: Annotated[Optional[str], typer.Option(help="the token acts as this user")] = None,
                 state: StateOption = None) -> None:
    """Create a token for an agency; the token is printed once, alone on the last line."""
    from pipeline.access import TokenStore

    with reported():
        store = object_store(state)
        valid = settings().access.token_days if days is None else days
        with AdminAudit(store, state) as audit:
            token, record = TokenStore(open_database(state, store)).create(
                agency, label, role or (), valid, username=user,
                before_commit=lambda r: audit(action="token.create", target=r.id, detail=(
                    f"agency={r.agency} roles={','.join(r.roles) or '-'} user={user or '-'} "
                    f"expires={r.expires:%Y-%m-%d}")))
    until = record.expires.date().isoformat()
    console.print(f"token {record.id} for {record.agency} ({', '.join(record.roles) or 'read only'}; valid until "
                  f"{until}) created; it is not stored, keep it now:", highlight=False)
    print(token)


@token_app.command("list")
def token_list(state: StateOption = None) -> None:
    """List tokens (ids, agencies, roles, created, expires, revoked), never their secrets."""
    from pipeline.access import TokenStore

    with reported():
        records = TokenStore(open_database(state)).list()
    table = Table(Column("id", no_wrap=True), "agency", "roles", "label", "created", "expires", "revoked")
    for r in records:
        table.add_row(r.id, r.agency, ",".join(r.roles), r.label, f"{r.created:%Y-%m-%d %H:%M}",
                      f"{r.expires:%Y-%m-%d}" if r.expires else "", f"{r.revoked:%Y-%m-%d %H:%M}" if r.revoked else "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="token id (or the token itself)")],
                 state: StateOption = None) -> None:
    """Revoke a token (effective on every service instance within its cache time)."""
    from pipeline.access import TokenStore

    with reported():
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            record = TokenStore(open_database(state, store)).revoke(token_id, before_commit=lambda r: audit(
                action="token.revoke", target=r.id, detail=f"agency={r.agency}"))
    console.print(f"token {record.id} of {record.agency} revoked at {record.revoked:%Y-%m-%d %H:%M:%S}",
                  highlight=False)


@token_app.command("expire")
def token_expire(token_id: Annotated[str, typer.Argument(help="token id (or the token itself)")],
                 days: Annotated[Optional[int], typer.Option(help="valid this many days from now", min=0)] = None,
                 until: Annotated[Optional[str], typer.Option(help="valid until this date (YYYY-MM-DD, UTC)")] = None,
                 state: StateOption = None) -> None:
    """Set when a token expires (0 days: now); e.g. for tokens taken over from earlier versions."""
    from datetime import UTC, datetime, timedelta

    from pipeline.access import TokenStore
    from pipeline.common import utcnow

    with reported():
        if (days is None) == (until is None):
            raise BadInputError("give either --days or --until")
        try:
            expires = utcnow() + timedelta(days=days) if days is not None else \
                datetime.fromisoformat(until).replace(tzinfo=UTC)
        except ValueError:
            raise BadInputError(f"--until {until!r} is not a date (YYYY-MM-DD)") from None
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            tokens = TokenStore(open_database(state, store))
            record = tokens.set_expiry(token_id, expires, before_commit=lambda r: audit(
                action="token.expire", target=r.id, detail=f"agency={r.agency} expires={r.expires.isoformat()}"))
    console.print(f"token {record.id} of {record.agency} now expires {record.expires:%Y-%m-%d %H:%M:%S} UTC",
                  highlight=False)


def change_grant(case_no: str, agency: str, revoke: bool, state: Path | None) -> None:
    """Give an agency access to a case, or take it away; the change is audited before it commits."""
    from pipeline.access import GrantStore, normalise_agency
    from pipeline.storage import case_key, normalise_case_no

    with reported():
        store = object_store(state)
        grants = GrantStore(open_database(state, store))
        canonical, agency = normalise_case_no(case_no), normalise_agency(agency)
        with AdminAudit(store, state) as audit:
            change = grants.revoke if revoke else grants.grant
            record = change(canonical, agency, command_actor(), before_commit=lambda _: audit(
                action="grant.revoke" if revoke else "grant.add", case_no=canonical, case_key=case_key(canonical),
                detail=f"agency={agency}"))
    console.print(f"case {record.case_no}: granted {', '.join(record.granted(grants.clock())) or '-'}; "
                  f"revoked {', '.join(sorted(record.denied)) or '-'}", highlight=False)


@app.command("grant")
def grant(case_no: Annotated[str, typer.Argument(help="案号")],
          agency: Annotated[str, typer.Option(help="agency to give access")],
          revoke: Annotated[bool, typer.Option("--revoke", help="take the access away instead")] = False,
          state: StateOption = None) -> None:
    """Let an agency read a case with no end date (administrators; the normal path is a released 调卷函)."""
    change_grant(case_no, agency, revoke, state)


@app.command("revoke-grant")
def revoke_grant(case_no: Annotated[str, typer.Argument(help="案号")],
                 agency: Annotated[str, typer.Option(help="agency to take access from")],
                 state: StateOption = None) -> None:
    """Take an agency's access to a case away, from `dossier grant` or a released request (never the owner's)."""
    change_grant(case_no, agency, True, state)


agency_app = typer.Typer(help="Requesting agencies: what kind of requester each is.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")


@agency_app.command("kind")
def agency_kind(agency: Annotated[str, typer.Argument(help="the requesting agency (a law firm, …)")],
                kind: Annotated[str, typer.Option("--kind", help="agency, lawyer or public")],
                state: StateOption = None) -> None:
    """Say what kind of requester an agency is (administrators): a lawyer's or the public's release gives the
    disclosure copy (阅卷版) unless the registrar chooses the original."""
    from pipeline.access.requests import AgencyKinds

    with reported():
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            name = AgencyKinds(open_database(state, store)).set(
                agency, kind, command_actor(),
                before_commit=lambda _: audit(action="agency.kind", detail=f"agency={agency} kind={kind}"))
    console.print(f"{name}: {kind}", highlight=False)


@audit_app.command("verify")
def audit_verify(state: StateOption = None) -> None:
    """Check the audit log's hash chains, object history, checkpoints (a stream shortened from its end, or deleted
    whole, is found) and the audit key's MACs (a stream written with the bucket credential alone is found); exit 6
    on any problem."""
    from pipeline.access import audit_key, verify_audit

    with reported():
        store = object_store(state)
        report = verify_audit(store, audit_key(open_database(state, store)))
    for problem in report.problems:
        err.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
    legacy = (f" ({report.legacy} written before checkpoints or the audit key: their end or author cannot be proven)"
              if report.legacy else "")
    console.print(f"{'OK' if report.ok else 'FAILED'}: {report.streams} streams{legacy}, {report.segments} segments, "
                  f"{report.entries} entries, {report.checkpoints} checkpoints, {len(report.problems)} problems",
                  highlight=False)
    if not report.ok:
        stop(ExitCode.VERIFICATION_FAILED)


@audit_app.command("show")
def audit_show(state: StateOption = None,
               case_no: Annotated[Optional[str], typer.Option("--case", help="only this case")] = None,
               agency: Annotated[Optional[str], typer.Option(help="only this agency")] = None,
               limit: Annotated[int, typer.Option(help="last N entries")] = 50,
               as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False) -> None:
    """Show the latest audit entries (all streams merged by time)."""
    from pipeline.access import normalise_agency, read_audit
    from pipeline.storage import normalise_case_no

    with reported():
        entries = list(read_audit(object_store(state)))
        if case_no:
            wanted = normalise_case_no(case_no)
            entries = [e for e in entries if e.get("case_no") == wanted]
        if agency:
            wanted_agency = normalise_agency(agency)
            entries = [e for e in entries if e.get("agency") == wanted_agency]
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

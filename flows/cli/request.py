"""`dossier request file|list|show|act|report|sweep`: 调卷函 from the command line.

Who acts is the bearer token given with ``--token`` (or DOSSIER_TOKEN): its agency and roles decide, as on the
web pages. With ``--server URL`` the command goes through a running ``dossier serve`` (how another agency's clerk
works); without it, it works on the access database and object store of this installation directly (operators),
with every step audited in a CLI stream before it takes effect. ``report`` and ``sweep`` are for operators.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli._common import StateOption, app, console, object_store, reported
from flows.cli.access import open_database
from pipeline.errors import BadInputError, NotFoundError, RefusedError, StoreError

request_app = typer.Typer(help="调卷函: requests to read another agency's case, approved in steps.",
                          no_args_is_help=True)
app.add_typer(request_app, name="request")

TokenOption = Annotated[Optional[str], typer.Option(envvar="DOSSIER_TOKEN", help="bearer token of the person acting")]
ServerOption = Annotated[Optional[str], typer.Option(help="URL of a running `dossier serve` (default: work directly)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def _desk(state: Path | None):
    """(the request desk of this installation, its database, its CLI audit stream: close it when done)."""
    from pipeline.access import AuditLog, GrantStore, RequestDesk, audit_key
    from pipeline.storage import DISCLOSURE_MANIFEST, DossierNotFound, disclosure_prefix, read_dossier_manifest

    store = object_store(state)
    db = open_database(state, store)
    audit = AuditLog(store, audit_key(db), kind="cli")

    def manifest_of(case_no: str):
        try:
            return read_dossier_manifest(store, case_no)
        except DossierNotFound:
            return None

    def copy_published(case_no: str, profile: str) -> bool:
        return store.stat(disclosure_prefix(case_no, profile) + DISCLOSURE_MANIFEST) is not None

    return RequestDesk(db, GrantStore(db, cache_ttl=0), audit, manifest_of, copy_published=copy_published), db, audit


class _Direct:
    """The request desk of this installation, acting as the token's principal."""

    def __init__(self, state: Path | None, token: str):
        from pipeline.access import AuthError, TokenStore

        self.desk, db, self.audit = _desk(state)
        try:
            self.who = TokenStore(db, cache_ttl=0).authenticate(token)
        except AuthError as exc:
            self.audit.close()
            raise RefusedError(f"the token is not valid: {exc}") from None

    def call(self, op: str, *args):
        from pipeline.access.requests import InboxItem, RequestDetail, RequestOut, filing_from

        try:
            if op == "file":
                return RequestOut.of(self.desk.file(self.who, filing_from(**args[0]))).model_dump(mode="json")
            if op == "list":
                return [RequestOut.of(v).model_dump(mode="json") for v in self.desk.mine(self.who, args[0])]
            if op == "inbox":
                return [InboxItem.of(v, actions=list(a)).model_dump(mode="json") for v, a in self.desk.inbox(self.who)]
            if op == "show":
                from pipeline.access.requests import EventOut

                view, events = self.desk.get(self.who, args[0])
                return RequestDetail.of(view, history=[EventOut.of(e) for e in events]).model_dump(mode="json")
            return RequestOut.of(self.desk.act(self.who, *args)).model_dump(mode="json")
        finally:
            self.audit.close()


class _Remote:
    """The request API of a running service."""

    ERRORS = {400: BadInputError, 401: RefusedError, 403: RefusedError, 404: NotFoundError}

    def __init__(self, server: str, token: str):
        self.base, self.headers = server.rstrip("/"), {"Authorization": f"Bearer {token}"}

    def call(self, op: str, *args):
        import httpx

        from pipeline.access import TransitionRefused

        method, path, body = {"file": ("POST", "/requests", args and args[0]),
                              "list": ("GET", "/requests?all=" + ("true" if args and args[0] else "false"), None),
                              "inbox": ("GET", "/requests/inbox", None),
                              "show": ("GET", f"/requests/{args[0] if args else 0}", None),
                              "act": ("POST", f"/requests/{args[0] if args else 0}/actions",
                                      {"action": args[1], "comment": args[2], "copy": args[3]}
                                      if len(args) > 3 else None)}[op]
        try:
            r = httpx.request(method, self.base + path, json=body, headers=self.headers, timeout=60)
        except httpx.HTTPError as exc:
            raise StoreError(f"{self.base} did not answer: {type(exc).__name__}: {exc}") from exc
        if r.status_code >= 300:
            detail = r.json().get("detail", r.text) if "json" in r.headers.get("content-type", "") else r.text
            error = TransitionRefused if r.status_code == 409 else self.ERRORS.get(r.status_code, StoreError)
            raise error(f"{self.base}: HTTP {r.status_code}: {detail}")
        return r.json()


def _client(server: str | None, token: str | None, state: Path | None):
    if not token:
        raise BadInputError("a bearer token is needed: --token or DOSSIER_TOKEN")
    return _Remote(server, token) if server else _Direct(state, token)


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def _print_requests(items: list[dict], inbox: bool = False) -> None:
    table = Table("id", "case", "from", "to", "state", "filed", "access until", *(["actions"] if inbox else []))
    for r in items:
        table.add_row(str(r["id"]), r["case_no"], f"{r['requesting_agency']} {r['department']}", r["holding_agency"],
                      r["state"], _when(r["filed_at"]), _when(r["expires_at"]),
                      *([",".join(r["actions"])] if inbox else []))
    console.print(table)


@request_app.command("file")
def request_file(case_no: Annotated[str, typer.Argument(help="案号 of the case asked for")],
                 holding_agency: Annotated[str, typer.Option(help="the agency holding the case")],
                 basis: Annotated[str, typer.Option(help="legal basis (法律依据)")],
                 reason: Annotated[str, typer.Option(help="reason (调卷事由)")],
                 department: Annotated[str, typer.Option(help="requesting department")],
                 contact: Annotated[str, typer.Option(help="contact person and telephone")],
                 volume: Annotated[Optional[list[int]], typer.Option("--volume", help="volume N (repeatable; "
                                                                     "default all)")] = None,
                 days: Annotated[int, typer.Option(help="access period asked for, in days")] = 30,
                 token: TokenOption = None, server: ServerOption = None, as_json: JsonOption = False,
                 state: StateOption = None) -> None:
    """File a 调卷函 (clerk); it goes to the department head for review."""
    filing = {"case_no": case_no, "holding_agency": holding_agency, "legal_basis": basis, "reason": reason,
              "department": department, "contact": contact, "days": days, "volumes": volume or None}
    with reported():
        r = _client(server, token, state).call("file", filing)
    if as_json:
        print(json.dumps(r, ensure_ascii=False))
        return
    console.print(f"request {r['id']} filed: {r['case_no']} from {r['holding_agency']}; {r['state']} "
                  f"({r['state_label']})", highlight=False)


@request_app.command("list")
def request_list(inbox: Annotated[bool, typer.Option("--inbox", help="requests waiting for my roles")] = False,
                 everyone: Annotated[bool, typer.Option("--all", help="all of my agency's (admins)")] = False,
                 token: TokenOption = None, server: ServerOption = None, as_json: JsonOption = False,
                 state: StateOption = None) -> None:
    """My requests, or (--inbox) those waiting for one of my roles."""
    with reported():
        client = _client(server, token, state)
        items = client.call("inbox") if inbox else client.call("list", everyone)
    if as_json:
        print(json.dumps(items, ensure_ascii=False))
        return
    _print_requests(items, inbox)


@request_app.command("show")
def request_show(request_id: int, token: TokenOption = None, server: ServerOption = None,
                 as_json: JsonOption = False, state: StateOption = None) -> None:
    """One request and its history."""
    with reported():
        r = _client(server, token, state).call("show", request_id)
    if as_json:
        print(json.dumps(r, ensure_ascii=False))
        return
    _print_requests([r])
    history = Table("time", "step", "by", "agency", "comment")
    for e in r["history"]:
        history.add_row(_when(e["at"]), e["step"], e["actor_name"] or e["actor"], e["agency"], e["comment"])
    console.print(history)


@request_app.command("act")
def request_act(request_id: int,
                action: Annotated[str, typer.Argument(help="review, approve, release or refuse")],
                comment: Annotated[str, typer.Option(help="comment; a refusal needs its reason")] = "",
                copy: Annotated[Optional[str], typer.Option(
                    "--copy", help="release: original (原件) or disclosure (阅卷版); default by the requesting "
                                   "agency's kind (a lawyer gets the 阅卷版)")] = None,
                token: TokenOption = None, server: ServerOption = None, as_json: JsonOption = False,
                state: StateOption = None) -> None:
    """Take the next step on a request: review (head), approve (deputy), release or refuse (registrar)."""
    with reported():
        r = _client(server, token, state).call("act", request_id, action, comment, copy)
    if as_json:
        print(json.dumps(r, ensure_ascii=False))
        return
    console.print(f"request {r['id']}: {action} done; now {r['state']} ({r['state_label']})"
                  + (f", access until {_when(r['expires_at'])}" if r.get("expires_at") else "")
                  + (f", released: {r['released_copy']}" if r.get("released_copy") else ""), highlight=False)


@request_app.command("report")
def request_report(since: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"],
                                                                     help="only requests filed since this day")]
                   = None,
                   agency: Annotated[Optional[str], typer.Option(help="only requests from or to this agency")] = None,
                   as_json: JsonOption = False, state: StateOption = None) -> None:
    """Time from filing to release (median, 90th percentile, longest) and of each step."""
    from pipeline.access import human, normalise_agency, timing_report
    from pipeline.access.requests import WORKING_DAYS_TARGET

    with reported():
        report = timing_report(open_database(state), since.replace(tzinfo=UTC) if since else None,
                               normalise_agency(agency) if agency else None)
    if as_json:
        seconds = lambda d: d.total_seconds() if d is not None else None  # noqa: E731
        print(json.dumps({"stages": [{"stage": s.name, "count": s.count, "median_s": seconds(s.median),
                                      "p90_s": seconds(s.p90), "longest_s": seconds(s.longest)}
                                     for s in report.stages],
                          "states": report.states, "released": report.released,
                          "released_within_15_working_days": report.within_target}, ensure_ascii=False))
        return
    table = Table("stage", "requests", "median", "90th percentile", "longest")
    for s in report.stages:
        table.add_row(s.name, str(s.count), human(s.median), human(s.p90), human(s.longest))
    console.print(table)
    states = ", ".join(f"{k} {v}" for k, v in sorted(report.states.items())) or "none"
    console.print(f"requests by state: {states}", highlight=False)
    console.print(f"released within {WORKING_DAYS_TARGET} working days of filing: {report.within_target} of "
                  f"{report.released}", highlight=False)


@request_app.command("sweep")
def request_sweep(state: StateOption = None) -> None:
    """Release waiting requests whose dossier was published, and record expired access (`dossier serve` does this
    every DOSSIER_REQUEST_SWEEP_SECONDS; run this from cron when no service runs)."""
    with reported():
        desk, _, audit = _desk(state)
        try:
            released, expired = desk.sweep()
        finally:
            audit.close()
    console.print(f"released {released} request(s) on publication; {expired} expired", highlight=False)

"""`dossier user` (people who sign in to the web pages, with their roles) and `dossier db` (the access database).

Passwords are asked for on the terminal (twice), or read from standard input with ``--password-stdin`` (one line),
never taken from the command line. A change takes effect only once its entry is in the audit log (a CLI stream):
the entry is written before the change's transaction commits (``flows.cli.access.AdminAudit``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli._common import StateOption, app, console, layout, object_store, reported, settings
from flows.cli.access import AdminAudit, open_database
from pipeline.errors import BadInputError, in_words
from pipeline.messages import N_, say

user_app = typer.Typer(help="People who sign in to the web pages (per agency, with roles).", no_args_is_help=True)
db_app = typer.Typer(help="The access database (requests, users, tokens, grants).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")

RoleOption = Annotated[Optional[list[str]], typer.Option(
    "--role", help="clerk (内勤), reviewer (部门负责人), approver (分管领导), registrar (案管), admin (调卷管理员), "
                   "operator (扫描员: the rooms given by --room), ops-admin (管理员: every room) (repeatable)")]
RoomOption = Annotated[Optional[list[str]], typer.Option(
    "--room", help="a scanning room an operator works for on the operators' desk (repeatable)")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise BadInputError("no password on standard input")
        return line
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def known_agencies(state, store, database) -> set[str]:
    """The agencies somebody knows of: those of the rooms file, the owners of published dossiers, and the agencies
    of existing users (the first user of a new agency is added with --new-agency)."""
    import json

    from flows.preflight import rooms_file_of
    from pipeline.access import UserStore, normalise_agency
    from pipeline.operations import load_rooms_file

    found: set[str] = set()
    rooms = rooms_file_of(settings(), layout(state))
    if rooms.is_file():
        found.update(a for binding in load_rooms_file(rooms).rooms.values() for a in binding.agencies)
    for info in store.list_keys("cases/"):
        if info.key.endswith("/dossier.json"):
            found.add(str(json.loads(store.get_bytes(info.key, limit=64 << 20)).get("agency", "")))
    found.update(r.agency for r in UserStore(database).list())
    return {normalise_agency(a) for a in found if a.strip()}


@user_app.command("add")
def user_add(username: Annotated[str, typer.Argument(help="sign-in name")],
             agency: Annotated[str, typer.Option(help="the user's agency, e.g. 新封县人民检察院")],
             role: RoleOption = None,
             name: Annotated[str, typer.Option(help="name shown in histories, e.g. 王某")] = "",
             department: Annotated[str, typer.Option(help="department; a reviewer reviews its requests only")] = "",
             room: RoomOption = None, password_stdin: PasswordStdin = False, state: StateOption = None,
             new_agency: Annotated[bool, typer.Option(
                 "--new-agency", help="the agency is new here: in no rooms file, owning no published dossier, "
                                      "with no user yet (without it such an agency is refused as a likely typo)")]
             = False) -> None:
    """Add a user of an agency with roles there (an operator with the rooms they work for)."""
    from pipeline.access import UserStore, normalise_agency

    with reported():
        store = object_store(state)
        database = open_database(state, store)
        if not new_agency and normalise_agency(agency) not in known_agencies(state, store, database):
            raise in_words(BadInputError(
                f"agency {agency!r} is known nowhere here (not in the rooms file, owning no published dossier, with no "
                f"user): check its spelling, or add its first user with --new-agency"),
                say(N_("Agency {agency} is not known here"), agency=agency),
                say(N_("check its spelling; if it is new, add its first user with --new-agency")))
        password = _password(password_stdin)
        with AdminAudit(store, state) as audit:
            record = UserStore(database).create(
                username, password, agency, role or (), name, department, rooms=room or (),
                before_commit=lambda r: audit(action="user.add", target=r.username, detail=(
                    f"agency={r.agency} roles={','.join(r.roles) or '-'} rooms={','.join(r.rooms) or '-'}")))
    rooms = f" for rooms {', '.join(record.rooms)}" if record.rooms else ""
    console.print(f"user {record.username} of {record.agency} added with roles {', '.join(record.roles) or '-'}"
                  f"{rooms}", highlight=False)


@user_app.command("list")
def user_list(state: StateOption = None) -> None:
    """List users (never their password hashes)."""
    from pipeline.access import UserStore

    with reported():
        records = UserStore(open_database(state)).list()
    table = Table("user", "name", "agency", "department", "roles", "rooms", "disabled")
    for r in records:
        table.add_row(r.username, r.display_name, r.agency, r.department, ",".join(r.roles), ",".join(r.rooms),
                      f"{r.disabled:%Y-%m-%d}" if r.disabled else "")
    console.print(table)


@user_app.command("roles")
def user_roles(username: str, role: RoleOption = None, state: StateOption = None) -> None:
    """Replace a user's roles (no --role: none left)."""
    from pipeline.access import UserStore

    with reported():
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            users = UserStore(open_database(state, store))
            record = users.set_roles(username, role or (), before_commit=lambda r: audit(
                action="user.roles", target=r.username, detail=f"roles={','.join(r.roles) or '-'}"))
    console.print(f"user {record.username}: roles {', '.join(record.roles) or '-'}", highlight=False)


@user_app.command("rooms")
def user_rooms(username: str, room: RoomOption = None, state: StateOption = None) -> None:
    """Replace the scanning rooms a user works for on the operators' desk (no --room: none left)."""
    from pipeline.access import UserStore

    with reported():
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            users = UserStore(open_database(state, store))
            record = users.set_rooms(username, room or (), before_commit=lambda r: audit(
                action="user.rooms", target=r.username, detail=f"rooms={','.join(r.rooms) or '-'}"))
    console.print(f"user {record.username}: rooms {', '.join(record.rooms) or '-'}", highlight=False)


@user_app.command("passwd")
def user_passwd(username: str, password_stdin: PasswordStdin = False, state: StateOption = None) -> None:
    """Set a user's password (ends their sessions)."""
    from pipeline.access import UserStore

    with reported():
        password = _password(password_stdin)
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            UserStore(open_database(state, store)).set_password(username, password, before_commit=lambda r: audit(
                action="user.passwd", target=r.username))
    console.print(f"password of {username} changed; their sessions ended", highlight=False)


@user_app.command("disable")
def user_disable(username: str, state: StateOption = None) -> None:
    """Stop a user from signing in (their history stays)."""
    from pipeline.access import UserStore

    with reported():
        store = object_store(state)
        with AdminAudit(store, state) as audit:
            UserStore(open_database(state, store)).disable(username, before_commit=lambda r: audit(
                action="user.disable", target=r.username))
    console.print(f"user {username} disabled", highlight=False)


@db_app.command("upgrade")
def db_upgrade(state: StateOption = None) -> None:
    """Bring the access database to the latest schema (the service and every command also do this at start)."""
    from pipeline.access import Database

    with reported():
        db = Database(settings().access.database_url(layout(state)))
        before, after = db.upgrade(object_store(state))
    console.print(f"{db.display}: {before or 'empty'} → {after}" if before != after
                  else f"{db.display}: already at {after}", highlight=False)


@db_app.command("status")
def db_status(state: StateOption = None) -> None:
    """Where the access database is and which schema revision it has."""
    from pipeline.access import Database

    with reported():
        db = Database(settings().access.database_url(layout(state)))
        current, head = db.revision(), db.head()
    console.print(f"{db.display}: revision {current or 'none'} (latest {head})", highlight=False)

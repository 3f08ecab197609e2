"""`dossier search` and `dossier withdraw`: full-text search at the command line, the index rebuilt from the store,
and a published dossier withdrawn (voided).

``dossier search 张三 [--case 案号]`` searches every published dossier (an administrator on the host), or with
``--agency X`` what agency X may read now; every search is audited (who, the query, how many hits).
``dossier search reindex [--case 案号]`` reads every published dossier (or one) from the store into the index again
and drops what is no longer published. ``dossier withdraw 案号 --reason …`` hides a dossier from every reader (its
manifest gets a delete marker; every stored version stays) and from the index, audited before it happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from flows.cli._common import StateOption, app, console, layout, object_store, reported, settings
from pipeline.errors import BadInputError, DossierError
from pipeline.storage import case_key, load_manifest, normalise_case_no, printed_case_no, withdraw_dossier


def _day(value: str | None, option: str) -> int:
    if not value:
        return 0
    digits = value.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise BadInputError(f"{option} {value!r}: give a date as YYYY-MM-DD")
    return int(digits)


def _scope(agency: str | None, state: Path | None):
    from pipeline.search import Scope

    if not agency:
        return Scope(everything=True)
    from flows.cli.access import open_database
    from pipeline.access import GrantStore, normalise_agency, search_scope
    from pipeline.common import utcnow

    db = open_database(state)
    try:
        return search_scope(normalise_agency(agency), GrantStore(db, cache_ttl=0), utcnow())
    finally:
        db.dispose()


def _print(results) -> None:
    shown = len(results.hits)
    more = f"，按相关度显示前 {shown} 处" if results.total > shown else ""
    console.print(f"共找到 {results.total} 处{more}", highlight=False)
    for k, hit in enumerate(results.hits, start=1):
        e = hit.entry
        where = "案件信息" if e.source == "case" else f"第{e.volume}卷 第{e.page}页"
        extra = "".join(f" · {x}" for x in (e.title, e.date, "卷内目录" if e.source == "catalogue" else "") if x)
        console.print(f"{k:>3}. [bold]{escape(printed_case_no(e.case_no))}[/bold] {where}{escape(extra)}",
                      highlight=False)
        snippet = "".join(f"[reverse]{escape(t)}[/reverse]" if marked else escape(t) for t, marked in hit.snippet)
        console.print(f"     {snippet}", highlight=False)


def _reindex(case: str | None, state: Path | None) -> None:
    from flows.search import reindex

    def progress(case_no: str, entries: int) -> None:
        console.print(f"  {escape(printed_case_no(case_no))}: {entries} entries", highlight=False)

    cases, entries, dropped, failures = reindex(settings(), layout(state), object_store(state), case, progress)
    console.print(f"reindexed {cases} dossier(s), {entries} entries; dropped {dropped} no longer published",
                  highlight=False)
    if failures:
        raise DossierError(f"{len(failures)} dossier(s) could not be read and were left as the index had them: "
                           + "; ".join(failures[:5]) + (" …" if len(failures) > 5 else ""))


@app.command("search")
def search(words: Annotated[list[str], typer.Argument(help="what to find (every word on the page); `reindex` "
                                                          "rebuilds the index from the store")],
           case: Annotated[Optional[str], typer.Option("--case", help="only this 案号 (also: reindex only it)")]
           = None,
           title: Annotated[Optional[str], typer.Option("--title", help="only documents of this 题名, e.g. 询问笔录")]
           = None,
           date_from: Annotated[Optional[str], typer.Option("--from", help="documents dated on or after YYYY-MM-DD")]
           = None,
           date_to: Annotated[Optional[str], typer.Option("--to", help="documents dated on or before YYYY-MM-DD")]
           = None,
           agency: Annotated[Optional[str], typer.Option(help="search what this agency may read now (default: "
                                                                "every published dossier)")] = None,
           limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
           state: StateOption = None) -> None:
    """Search the text of published pages, their 卷内目录 and case facts (张三, 豫A12345, 〔2024〕74号)."""
    from flows.cli.access import AdminAudit
    from flows.search import open_search
    from pipeline.search import Filters

    with reported():
        if words == ["reindex"]:
            _reindex(case, state)
            return
        query = " ".join(words)
        filters = Filters(case_key=case_key(normalise_case_no(case)) if case else None, title=title,
                          date_from=_day(date_from, "--from"), date_to=_day(date_to, "--to"))
        scope = _scope(agency, state)
        index = open_search(settings(), layout(state))
        try:
            results = index.search(query, scope, filters, limit)
        finally:
            index.close()
        with AdminAudit(object_store(state), state) as audit:
            audit(action="search", search=query, hits=results.total, agency=agency or "-",
                  **({"search_case": normalise_case_no(case)} if case else {}))
        _print(results)


@app.command("withdraw")
def withdraw(case_no: Annotated[str, typer.Argument(help="案号 of the published dossier")],
         reason: Annotated[str, typer.Option("--reason", help="why it is withdrawn (kept in the audit log)")],
         state: StateOption = None) -> None:
    """Withdraw (void) a published dossier: no reader finds or fetches it any more (every stored version is kept)."""
    from flows.cli.access import AdminAudit
    from flows.search import drop_from_index

    with reported():
        if not reason.strip():
            raise BadInputError("--reason must say why the dossier is withdrawn")
        store = object_store(state)
        canonical = normalise_case_no(case_no)
        current = load_manifest(store, canonical)
        with AdminAudit(store, state) as audit:
            audit(action="dossier.withdraw", case_no=canonical, case_key=case_key(canonical),
                  manifest_version=current.version_id or "-", detail=reason.strip()[:500])
            withdraw_dossier(store, canonical)
        drop_from_index(settings(), layout(state), case_key(canonical))
        console.print(f"withdrew {escape(printed_case_no(canonical))} (manifest version {current.version_id}); it "
                      f"is no longer found or fetched", highlight=False)

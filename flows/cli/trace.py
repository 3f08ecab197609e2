"""`dossier trace FILE.pdf`: who fetched this copy, when, under which 调卷函.

A volume fetched through the service carries a copy identifier (in its XMP, and printed on every page's bottom line);
the audit log recorded it with the fetch. The command reads the identifier (from the XMP, else from the printed line),
checks the service's certification (was the copy changed since it was made?) and finds the fetch in the audit log.
Exit 0 when found, 7 when the file carries no identifier or the log holds none like it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from flows.cli._common import (
    DevelopmentKeyOption,
    StateOption,
    app,
    console,
    object_store,
    reported,
    use_development_key,
)
from pipeline.errors import NotFoundError

_PRINTED = re.compile(r"副本编号\s*(C-[0-9A-F]{12})")


def copy_id_of(path: Path) -> tuple[str, str]:
    """The copy identifier of a fetched volume and where it was read (XMP, or the printed line)."""
    import pymupdf

    from pipeline.dossier import read_copy

    found = read_copy(path).get("copyId", "")
    if found:
        return found, "XMP"
    with pymupdf.open(path) as doc:
        for page in doc:
            m = _PRINTED.search(page.get_text())
            if m:
                return m.group(1), "printed line"
    raise NotFoundError(f"{path.name} carries no copy identifier: it was not fetched through the service")


def fetches_of(store, copy_id: str) -> list[dict]:
    """The audit log's entries of the fetch that made a copy."""
    from pipeline.access import read_audit

    return [e for e in read_audit(store) if e.get("copy_id") == copy_id]


@app.command("trace")
def trace(file: Annotated[Path, typer.Argument(help="a volume PDF fetched through the service", exists=True,
                                               dir_okay=False)],
          state: StateOption = None, development_key: DevelopmentKeyOption = False) -> None:
    """Name who fetched a copy, when, under which 调卷函 (from its copy identifier and the audit log)."""
    use_development_key(development_key)
    from flows.cli.fetch import trust_roots
    from pipeline.archival import validate_signature

    with reported():
        copy_id, where = copy_id_of(file)
        check = validate_signature(file, trust_roots([], state))
        entries = fetches_of(object_store(state), copy_id)
        if not entries:
            raise NotFoundError(f"copy {copy_id} ({where}) is in no fetch of the audit log")
    console.print(f"副本 {copy_id}（读自{'XMP' if where == 'XMP' else '页面印记'}）", highlight=False)
    for e in entries:
        ids = e.get("request_id")
        ids = ids if isinstance(ids, list) else [ids] if ids else []
        request = "、".join(f"第{i}号" for i in ids) or "无（本单位或管理员授权调阅）"
        console.print(f"  调阅人：{e.get('actor_name') or '—'}（{e.get('actor', '')}）\n"
                      f"  单位：{e.get('agency', '')}\n  调卷函：{request}\n  时间：{e.get('ts', '')}\n"
                      f"  案号：{e.get('case_no', '')} 第{e.get('volume', '?')}卷　{e.get('copy_of', '')}",
                      highlight=False, soft_wrap=True)
    same = any(e.get("copy_sha256") == _sha256(file) for e in entries)
    verdict = "签章完好：" + check.signer if check.passed else \
        "签章未通过核验（" + "；".join(check.errors or ["原因不明"]) + "）"
    console.print(verdict + ("；文件与调阅时完全一致" if same else "；文件与调阅时的字节不同"), highlight=False,
                  soft_wrap=True)


def _sha256(path: Path) -> str:
    from pipeline.common import sha256_file

    return sha256_file(path)

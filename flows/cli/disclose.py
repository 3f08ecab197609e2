"""`dossier disclose 案号 --profile P`: make (or make again) a case's disclosure copy (阅卷版) and publish it beside
the original.

The copy is made from the published volumes in ``<state>/disclosure/<case-key>/<profile>/``; when a detection is in
doubt (an ID whose check digit fails, a name read one character off, what the second reading of a painted page still
found) the command stops before publishing (exit 9) and shows each one with the picture of its place::

    dossier disclose '（2024）豫0727刑初172号' --profile lawyer                 # make; stops for a review if in doubt
    dossier disclose CASE --profile lawyer --accept --reviewer 陈案管 [--keep 12]   # release, leaving 12 visible

``--accept`` makes the copy again with the decisions and publishes it, provided what is in doubt is still what was
shown (else it asks again).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli._common import (
    DevelopmentKeyOption,
    StateOption,
    app,
    console,
    layout,
    object_store,
    operator,
    reported,
    settings,
    stop,
    use_development_key,
)
from pipeline.errors import BadInputError, ExitCode

REVIEWED = "reviewed.json"
KINDS = {"id_number": "身份证号", "phone": "电话", "bank_card": "银行卡号", "plate": "车牌号", "address": "住址",
         "name": "姓名"}


def _doubtful_items(review_file: Path) -> list[dict]:
    items = json.loads(review_file.read_text(encoding="utf-8"))["detections"]
    return [{k: d[k] for k in ("id", "volume", "page", "kind", "value")} for d in items if not d["certain"]]


def _show(items: list[dict], work: Path) -> None:
    table = Table(title="存疑项（发布前须复核）", show_lines=False)
    for col in ("编号", "卷/页", "类别", "识别内容", "理由", "图片"):
        table.add_column(col, overflow="fold")
    for d in items:
        table.add_row(str(d["id"]), f"{d['volume']}/{d['page']}", KINDS.get(d["kind"], d["kind"]), d["value"],
                      d.get("reason", ""), str(work / d["picture"]) if d.get("picture") else "")
    console.print(table)


def _signer(state: Path | None, standard):
    from dataclasses import replace

    from pipeline.dossier import signer_for_run

    config = signer_for_run(settings().signing, layout(state).signing, standard)
    return replace(config, reason="阅卷版制作")


@app.command("disclose")
def disclose(
    case_no: Annotated[str, typer.Argument(help="案号 of a published case")],
    profile: Annotated[str, typer.Option("--profile", help="disclosure profile: lawyer, public, agency or a YAML "
                                         "file")] = "lawyer",
    by: Annotated[Optional[str], typer.Option("--by", help="who makes the copy (default: this user)")] = None,
    accept: Annotated[bool, typer.Option("--accept", help="release the copy after the review of what is in doubt")]
    = False,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="who reviewed (needed with --accept)")] = None,
    keep: Annotated[Optional[list[int]], typer.Option("--keep", help="a doubtful detection judged not personal "
                                                      "data: left visible (repeatable)")] = None,
    comment: Annotated[str, typer.Option("--comment", help="the reviewer's comment")] = "",
    state: StateOption = None, development_key: DevelopmentKeyOption = False,
) -> None:
    """Make the disclosure copy (阅卷版) of a published case under a profile, signed, and publish it beside the
    original (cases/<key>/disclosure/<profile>/); stops for a review when a detection is in doubt (exit 9)."""
    use_development_key(development_key)
    if accept and not reviewer:
        raise typer.BadParameter("--accept needs --reviewer NAME")
    with reported():
        _disclose(case_no, profile, by or operator(), accept, reviewer or "", sorted(set(keep or [])), comment, state)


def _disclose(case_no: str, profile_name: str, by: str, accept: bool, reviewer: str, keep: list[int], comment: str,
              state: Path | None) -> None:
    from pipeline.common import utcnow
    from pipeline.dossier import CopyOrder, doubtful, fetch_source, make_copy, trust_roots_for_run
    from pipeline.models import ReviewDecision
    from pipeline.ocr import OcrSettings
    from pipeline.standard import load_disclosure_profile, load_profile
    from pipeline.storage import case_key

    home = layout(state)
    profile, standard = load_disclosure_profile(profile_name), load_profile(None)
    store = object_store(state)
    base = home.disclosure / case_key(case_no) / profile.name
    source = fetch_source(store, case_no, base / "source")
    decision = ReviewDecision(reviewer=reviewer, at=utcnow(), kept=keep, comment=comment) if accept else None
    order = CopyOrder(profile, made_by=by, approved_by=reviewer if accept else by, review=decision,
                      ocr=OcrSettings.from_policy(standard.ocr) if profile.verify_by_ocr else None,
                      jpeg_quality=standard.imaging.jpeg_quality, kept=frozenset(keep))
    work = base / "copy"
    shutil.rmtree(work, ignore_errors=True)
    manifest = make_copy(source, order, work, _signer(state, standard),
                         trust_roots_for_run(settings().signing, home.signing))
    in_doubt = doubtful(manifest)
    needs_review = profile.review == "always" or (profile.review == "doubtful" and bool(in_doubt))
    current = _doubtful_items(work / "review.json")
    if needs_review and not accept:
        shutil.copyfile(work / "review.json", base / REVIEWED)
        detections = json.loads((work / "review.json").read_text(encoding="utf-8"))["detections"]
        _show([d for d in detections if not d["certain"]], work)
        stop(ExitCode.REVIEW_NEEDED, f"{len(in_doubt)} detection(s) of the {profile.name} copy of {case_no} are in "
                                     f"doubt: review them, then run again with --accept --reviewer NAME "
                                     f"[--keep ID] to release it")
    if needs_review and (not (base / REVIEWED).is_file() or _doubtful_items(base / REVIEWED) != current):
        raise BadInputError(f"what is in doubt in the {profile.name} copy of {case_no} is not what was reviewed "
                            f"(run without --accept to see it again)")
    if unknown := sorted(set(keep) - {d["id"] for d in current}):
        raise BadInputError(f"--keep {', '.join(map(str, unknown))}: no such doubtful detection")
    _publish(store, manifest, work, case_no, profile, standard.retention, state)


def _publish(store, manifest, work: Path, case_no: str, profile, retention, state: Path | None) -> None:
    from flows.cli.access import AdminAudit
    from pipeline.dossier import publish_copy
    from pipeline.storage import disclosure_prefix

    with AdminAudit(store, state) as audit:
        def before(final, sha256: str) -> None:
            audit(action="disclosure.publish", case_no=final.case_no, case_key=final.case_key,
                  target=disclosure_prefix(final.case_no, final.profile), manifest_sha256=sha256,
                  detail=f"{profile.key}: {json.dumps(final.counts, ensure_ascii=False)}; approved by "
                         f"{final.approved_by}")

        ref = publish_copy(store, manifest, work, retention, before_manifest=before)
    counts = "、".join(f"{KINDS[k]} {v}" for k, v in ref.manifest.counts.items())
    console.print(f"published the {profile.name} copy of {case_no} ({len(ref.manifest.volumes)} volume(s), "
                  f"removed {sum(ref.manifest.counts.values())}: {counts or 'nothing'}) to "
                  f"{disclosure_prefix(case_no, profile.name)} version {ref.version_id}", highlight=False)

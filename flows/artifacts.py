"""What a run shows in the Prefect UI: a markdown summary (naming any review corrections) and one contact sheet per
volume; on failure a markdown artifact with the reason in Chinese, what to do next and a link to the operators' desk.

Contact sheets are PNG files in the work folder (``contact/volume-NNN.png``). A Prefect image artifact only holds a
URL: with ``DOSSIER_ARTIFACT_BASE_URL`` (the fetch service's address; ``make up`` sets it) it points at the
service's ``/web/operations/contact-sheets/<案号>/<batch>/<N>``, which serves each sheet to those who may see the
batch's room and audits it — never the state folder itself, which holds the signing key, the store's credentials
and the access database. Without it, the file's ``file://`` URL, which the UI shows as a link on the same machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from pipeline.imaging import Thumb, write_contact_sheet
from pipeline.models import CatalogueCorrection, VolumeEntry
from pipeline.pages import PageArtifact
from pipeline.storage import case_key
from pipeline.structure import LABELS, VolumePlan


def desk_url(base_url: str, *parts: str) -> str:
    """A page of the operators' desk at the service's address (path parts percent-encoded)."""
    return base_url.rstrip("/") + "/web/operations/" + "/".join(quote(str(p), safe="") for p in parts)


def sheet_url(path: Path, base_url: str, case_no: str, batch_id: str, volume: int) -> str:
    """The URL an image artifact uses for a volume's contact sheet: served by the desk at ``base_url`` when given,
    else the file's own URL."""
    if base_url.strip():
        return desk_url(base_url, "contact-sheets", case_no, batch_id, str(volume))
    return path.resolve().as_uri()


def write_contact_sheets(folder: Path, case_no: str, plans: Sequence[VolumePlan],
                         pages: Mapping[int, PageArtifact]) -> dict[int, Path]:
    """One contact sheet per volume: the numbered pages in order, flagged ones outlined."""
    sheets = {}
    for plan in plans:
        thumbs = [Thumb(str(pages[p].record.page or i + 1), pages[p].image_path, tuple(pages[p].record.flags))
                  for i, p in enumerate(plan.positions)]
        sheets[plan.number] = write_contact_sheet(folder / "contact" / f"volume-{plan.number:03d}.png", thumbs,
                                                  f"{case_no}  第{plan.number}卷 共{plan.of}卷")
    return sheets


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(case_no: str, status: str, artifacts: Sequence[PageArtifact], plans: Sequence[VolumePlan],
                     volumes: Mapping[int, VolumeEntry], failed: Mapping[int, str], reused: Sequence[int],
                     pages_processed: int, pages_cached: int, folder: Path, sheets: Mapping[int, str],
                     corrections: Sequence[CatalogueCorrection] = ()) -> str:
    """The run summary: case, status, volumes, pages, every flagged page with its reasons, and the 卷内目录 fields a
    reviewer corrected."""
    numbered = sum(p.page_count for p in plans)
    blank = sum(1 for a in artifacts if a.record.blank)
    separators = sum(1 for a in artifacts if a.record.separator)
    lines = [
        f"# {case_no}: {status}",
        "",
        f"- input pages: **{len(artifacts)}** ({pages_processed} processed, {pages_cached} from cache)",
        f"- numbered pages: **{numbered}** in **{len(plans)}** volume(s); blank pages left out: {blank}; "
        f"separator sheets: {separators}",
        f"- work folder: `{folder}`",
        "",
        "| volume | pages | status | SHA-256 | contact sheet |",
        "|---|---|---|---|---|",
    ]
    for plan in plans:
        entry = volumes.get(plan.number)
        if plan.number in failed:
            state = f"FAILED: {_cell(failed[plan.number])}"
        elif entry is not None:
            state = "reused" if plan.number in reused else "built"
        else:
            state = "not built"
        sha = entry.sha256[:16] + "…" if entry else ""
        link = f"[volume-{plan.number:03d}.png]({sheets[plan.number]})" if plan.number in sheets else ""
        lines.append(f"| {plan.number}/{plan.of} | {plan.page_count} | {state} | {sha} | {link} |")
    flagged = [a for a in artifacts if a.record.flags]
    lines += ["", f"## Flagged pages ({len(flagged)})", ""]
    if flagged:
        lines += ["| volume | page | file | reasons |", "|---|---|---|---|"]
        for a in flagged:
            src = a.record.source
            name = src.file if src.index == 0 else f"{src.file}[{src.index}]"
            lines.append(f"| {a.record.volume or '-'} | {a.record.page or '-'} | {_cell(name)} | "
                         f"{_cell('; '.join(a.record.flags))} |")
    else:
        lines.append("none")
    return "\n".join(lines + corrections_markdown(corrections)) + "\n"


def corrections_markdown(corrections: Sequence[CatalogueCorrection]) -> list[str]:
    """The summary's section on the 卷内目录 review: each field corrected (who, before, after), fields confirmed."""
    if not corrections:
        return []
    corrected = [c for c in corrections if c.action == "corrected"]
    confirmed = len(corrections) - len(corrected)
    reviewers = "、".join(dict.fromkeys(c.by for c in corrections))
    lines = ["", f"## 卷内目录审核（{reviewers}）", "",
             f"更正 {len(corrected)} 项，确认 {confirmed} 项（与识别结果一致）。", ""]
    if corrected:
        lines += ["| 卷 | 顺序号 | 字段 | 原值 | 更正为 | 审核人 | 时间 (UTC) |", "|---|---|---|---|---|---|---|"]
        for c in corrected:
            lines.append(f"| {c.volume} | {c.seq} | {LABELS.get(c.field, c.field)} | {_cell(c.before) or '（空）'} | "
                         f"{_cell(c.after) or '（空）'} | {_cell(c.by)} | {c.at:%Y-%m-%d %H:%M} |")
    return lines


def artifact_key(kind: str, case_no: str, volume: int | None = None) -> str:
    """An artifact key (lowercase letters, digits, dashes) naming the case, so the UI keeps its history."""
    key = f"{kind}-{case_key(case_no)}"
    return key + (f"-v{volume:03d}" if volume is not None else "")


def publish_artifacts(case_no: str, markdown: str, sheet_urls: Mapping[int, str], log) -> None:
    """Create the Prefect artifacts of a run (the contact sheets by URL); a failure here is logged, never fatal."""
    from prefect.artifacts import create_image_artifact, create_markdown_artifact

    try:
        create_markdown_artifact(markdown, key=artifact_key("dossier", case_no),
                                 description=f"Run summary of {case_no}")
        for number, url in sorted(sheet_urls.items()):
            create_image_artifact(url, key=artifact_key("contact-sheet", case_no, number),
                                  description=f"{case_no}: contact sheet of volume {number}")
    except Exception as exc:  # noqa: BLE001 - the dossier matters more than its picture
        log.warning("could not create the run's artifacts: %s", exc)


FAILURE_WORDS = {
    3: ("批次中的文件或批次说明无法使用", "按下方细节更正所指的文件（如重新扫描该页），再把整个批次重新放入扫描室"),
    4: ("按规定拒绝发布", "核对案号、密级和所属单位；管理员处理后，在操作台把批次重新排队"),
    5: ("对象存储或其他服务没有响应（机器故障，与批次无关）", "检查服务（dossier store status）；恢复后重做即可"),
    6: ("卷册未通过检验", "按细节排除原因后，在操作台重做失败的卷（只重建失败的部分）"),
    7: ("找不到所需的记录", "核对案号；已发布的案卷可在操作台重新处理"),
    8: ("配置有误（机器故障，与批次无关）", "管理员按细节更正设置或标准配置后重做"),
    9: ("需要人工决定", "查看细节所指的页面（如分隔页），更正后把批次重新放入扫描室"),
}
"""What a failed run's artifact says, by the error's exit code: what happened, what to do next."""


def failure_markdown(case_no: str, kind: str, exc: BaseException | None, message: str, desk: str) -> str:
    """The failure artifact: the reason in Chinese first, the next step, a link to the desk, then the detail."""
    from pipeline.errors import exit_code_of

    what, step = FAILURE_WORDS.get(int(exit_code_of(exc)) if exc is not None else 1,
                                   ("运行出错", "在操作台查看此案的历史；排除原因后重做"))
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else message
    lines = [f"# 运行失败：{case_no}", "", f"**原因：** {what}", "", f"**下一步：** {step}", ""]
    if desk:
        lines += [f"[在操作台查看此案]({desk})", ""]
    lines += ["**细节：**", "", "```", detail[:3000], "```"]
    return "\n".join(lines) + "\n"


def report_failure(flow, flow_run, state) -> None:
    """A flow's ``on_failure`` hook: the failure artifact, made last so that the run shows it first."""
    import logging

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    from flows.runlabels import labels_of
    from pipeline.settings import Settings

    try:
        labels = labels_of(str(flow_run.id))
        params = flow_run.parameters or {}
        case_no = labels.get("case_no") or params.get("case_no") or params.get("batch_id") or "?"
        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # noqa: BLE001 - the result may not be retrievable: the state's message is kept
            exc = None
        base = Settings.load().service.artifact_base_url
        desk = desk_url(base, "cases", case_no) if base and labels.get("case_no") else ""
        markdown = failure_markdown(case_no, labels.get("kind", flow.name), exc if isinstance(exc, BaseException)
                                    else None, state.message or "", desk)
        with get_client(sync_client=True) as client:
            client.create_artifact(ArtifactCreate(
                key=f"failure-{case_key(case_no)}" if labels.get("case_no") else None, type="markdown",
                data=markdown, description=f"{case_no}：运行失败的原因与下一步", flow_run_id=flow_run.id))
    except Exception as exc:  # noqa: BLE001 - the run has failed already; its artifact must not hide why
        logging.getLogger("dossier.runs").warning("could not record the failure artifact of run %s: %s",
                                                  flow_run.id, exc)

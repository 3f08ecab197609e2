"""What a run shows in the Prefect UI: a markdown summary and one contact sheet per volume.

Contact sheets are PNG files in the work folder (``contact/volume-NNN.png``). A Prefect image artifact only holds a
URL, so it points at ``$DOSSIER_ARTIFACT_BASE_URL/work/<case-key>/<batch>/contact/volume-NNN.png`` when a web
server serves those files — only those: the state folder also holds the signing key, the store's credentials and the
access database, so never serve the folder itself (docs/operations/hot-folders.md, "Seeing progress") — else at
the file's ``file://`` URL, which the UI shows as a link on the same machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from pipeline.imaging import Thumb, write_contact_sheet
from pipeline.models import VolumeEntry
from pipeline.pages import PageArtifact
from pipeline.storage import case_key
from pipeline.structure import VolumePlan


def sheet_url(path: Path, home: Path, base_url: str = "") -> str:
    """The URL an image artifact uses for a file under the state folder (served at ``base_url``, when given)."""
    base = base_url.rstrip("/")
    if base:
        try:
            rel = path.resolve().relative_to(home.resolve())
            return f"{base}/{quote(rel.as_posix())}"
        except ValueError:
            pass
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
                     pages_processed: int, pages_cached: int, folder: Path, sheets: Mapping[int, str]) -> str:
    """The run summary: case, status, volumes, pages, and every flagged page with its reasons."""
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
    return "\n".join(lines) + "\n"


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

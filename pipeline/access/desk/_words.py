"""The desk's words for a batch's reason and next step: the desk's buttons where the CLI names its commands. (A case's
events, its runs' kinds and states are said by pipeline.operations as ``dossier status`` says them; why a 卷内目录 field
is in doubt by :func:`pipeline.structure.doubt_words`, the one vocabulary of every review.)"""

from __future__ import annotations

from pipeline.models import BatchStatus
from pipeline.operations import DROP_AGAIN, ReasonKind, advice_for, reason_parts

DESK_ACTS = {"requeue": "在批次页点「重新排队」", "rerun": "在批次页点「重做所选的卷」",
             "review": "点「审核卷内目录」，在审核台核对后提交"}
"""How a step the CLI does by a command is done at the desk."""


def desk_reason(status: BatchStatus) -> tuple[str, str, str]:
    """A batch's reason as the desk shows it: the people's words, the technical detail (shown folded), and the next
    step naming the desk's buttons instead of the CLI's commands."""
    if status.state == "review":
        return status.reason, "", DESK_ACTS["review"]
    if status.state == "held":
        return status.reason, "", f"{status.next_step}（由管理员处理；机器恢复后批次自动继续，不必重新放入）"
    what, detail = reason_parts(status.reason_kind, status.reason) if status.reason_kind else ("", status.reason)
    if not what or status.state != "quarantined":
        return status.reason, "", status.next_step
    kind = ReasonKind(status.reason_kind)
    step = status.next_step if kind in DROP_AGAIN else advice_for(
        kind, status.room, status.batch, status.case_no, requeue=DESK_ACTS["requeue"], rerun=DESK_ACTS["rerun"])
    return what, detail, step

"""The desk's words for what the pipeline records in codes: why a 卷内目录 field is in doubt."""

from __future__ import annotations

DOUBT_WORDS = {
    "missing": "缺失", "corrected": "已按词表更正", "ambiguous": "有歧义", "unverified": "未能核实",
    "low-confidence": "识别把握不大", "conflict": "几次识别不一致", "repaired": "由残缺的识别修补",
    "partial": "不完整", "truncated": "被截断", "no-ocr": "未做文字识别",
}


def doubt_words(flags: list[str]) -> str:
    """A field's flags as a reviewer reads them: 缺失、识别把握不大."""
    return "、".join(DOUBT_WORDS.get(f, f) for f in flags)

EVENT_KINDS = {"try": "批次", "run": "运行", "review": "审核", "publication": "发布"}
RUN_KINDS = {"process": "处理", "rerun": "重做", "reprocess": "重新处理"}
RUN_STATES = {"running": "运行中", "review": "等待审核", "failed": "失败", "built": "已生成，未发布",
              "published": "已发布"}
"""The desk's words for a case's events, its runs' kinds and their states."""

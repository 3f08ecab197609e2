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

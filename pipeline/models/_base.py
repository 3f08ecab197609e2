"""The base of every contract model and the literal types they share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = "1.0"

SecurityLevel = Literal["public", "internal", "secret", "confidential", "top-secret"]
"""Security levels, lowest first (公开, 内部, 秘密, 机密, 绝密)."""
SECURITY_ORDER: tuple[str, ...] = ("public", "internal", "secret", "confidential", "top-secret")

ColourMode = Literal["bitonal", "grey", "colour"]
FieldSource = Literal["sheet", "manifest", "ocr", "operator"]  # where a 卷内目录 field came from
PdfaLevel = Literal["1b", "2b"]


class Contract(BaseModel):
    """Base for contract models: unknown fields are refused so that typos fail loudly."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

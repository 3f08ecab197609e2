"""What a scanning room sends: batch.json and the payload of a separator sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import SCHEMA_VERSION, Contract, SecurityLevel

# --------------------------------------------------------------------------------------------------------------------
# Batch manifest (batch.json, written by the scanning room)


class DocumentSpec(Contract):
    """One document of the batch as declared by the scanning room (order = scan order)."""

    title: str = Field(description="题名, e.g. 起诉书")
    doc_no: str = Field(default="", description="文号, e.g. 新封检公诉刑诉〔2019〕172号")
    author: str = Field(default="", description="责任者 (issuing authority)")
    date: str = Field(default="", description="日期, ISO 8601 (YYYY-MM-DD) or as printed")
    pages: int = Field(ge=1, description="number of scanned pages of this document, blank backs included")
    remark: str = Field(default="", description="备注")


class BatchManifest(Contract):
    """batch.json: what the scanning room knows about one batch of page images."""

    schema_version: str = SCHEMA_VERSION
    case_no: str = Field(description="案号, e.g. （2024）豫0727刑初172号")
    case_title: str = Field(default="", description="案件名称")
    agency: str = Field(default="", description="立卷单位: one of the agencies the administrator bound the room to")
    room: str = Field(default="", description="scanning room id")
    operator: str = Field(default="", description="scanner operator")
    scanned: datetime | None = Field(default=None, description="when the batch was scanned")
    dpi: int | None = Field(default=None, ge=50, le=2400,
                            description="declared scan resolution, used when a file has none")
    security_level: SecurityLevel = "internal"
    retention: str = Field(default="", description="保管期限, e.g. 永久, 长期, 30年")
    prepared_by: str = Field(default="", description="立卷人")
    checked_by: str = Field(default="", description="检查人")
    grants: list[str] = Field(default_factory=list, description="ignored: access is never granted by a scanning room")
    documents: list[DocumentSpec] = Field(default_factory=list, description="document list; empty = detect")
    standard: str | None = Field(default=None, description="standard profile id@version to use, default if absent")


# --------------------------------------------------------------------------------------------------------------------
# Separator sheet payload (the QR code printed by `dossier sheets`)


class SeparatorPayload(Contract):
    """The QR payload of a separator sheet: a batch cover or the start of one document."""

    v: Literal[1] = 1
    kind: Literal["batch", "document"]
    case_no: str = Field(default="", description="案号 (always on the batch cover)")
    case_title: str = ""
    agency: str = ""
    title: str = Field(default="", description="document 题名 (kind=document)")
    doc_no: str = Field(default="", description="文号")
    author: str = Field(default="", description="责任者")
    date: str = Field(default="", description="ISO 8601 date")
    pages: int | None = Field(default=None, ge=1, description="expected page count of the document, if known")

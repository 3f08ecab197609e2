"""The 卷内目录: entries, the evidence behind each field, and an operator's corrections."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import SCHEMA_VERSION, Contract, FieldSource


class FieldEvidence(Contract):
    """Where a 卷内目录 field came from (null: nobody), how sure we are (1: declared or reviewed), why it is in doubt
    (no flags: it is not), what OCR read when the value differs (a correction)."""

    source: FieldSource | None = None
    confidence: float = Field(default=0.0, ge=0, le=1)
    flags: list[str] = []
    read: str = ""


class EntryEvidence(Contract):
    """The evidence of each field of one 卷内目录 row."""

    title: FieldEvidence = FieldEvidence()
    doc_no: FieldEvidence = FieldEvidence()
    author: FieldEvidence = FieldEvidence()
    date: FieldEvidence = FieldEvidence()


class CatalogueEntry(Contract):
    """One row of a volume's 卷内目录."""

    seq: int = Field(description="顺序号 within the volume")
    doc_no: str = Field(default="", description="文号")
    author: str = Field(default="", description="责任者")
    title: str = Field(description="题名")
    date: str = Field(default="", description="日期, ISO 8601 when known")
    first_page: int = Field(description="first page number in the volume")
    last_page: int = Field(description="last page number in the volume")
    remark: str = Field(default="", description="备注, e.g. 续 for a continued document")
    continued: bool = False
    document: int = Field(description="document index in the case")
    flags: list[str] = Field(default_factory=list, description="in doubt: <field>-<flag> (date-missing…), notes")
    evidence: EntryEvidence = Field(default_factory=EntryEvidence, description="source, confidence, flags per field")


class VolumeCatalogue(Contract):
    """The 卷内目录 of one volume."""

    volume: int
    entries: list[CatalogueEntry]


class Catalogue(Contract):
    """catalogue.json: the 卷内目录 of every volume of a dossier."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    volumes: list[VolumeCatalogue]


class CatalogueCorrection(Contract):
    """One 卷内目录 field a person (by, at) confirmed or corrected (before → after) before the volumes were built."""

    volume: int
    seq: int = Field(description="顺序号 of the row in its volume; document: its index in the case")
    document: int
    field: Literal["title", "doc_no", "author", "date"]
    action: Literal["corrected", "confirmed"]
    before: str
    after: str
    source_before: FieldSource | None = None
    flags_before: list[str] = []
    by: str
    at: datetime
    run: str | None = Field(default=None, description="the paused flow run the review resumed")

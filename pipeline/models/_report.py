"""report.json: the checks a dossier passed or failed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import SCHEMA_VERSION, Contract
from pipeline.models._dossier import ReportSummary

# --------------------------------------------------------------------------------------------------------------------
# Four-property report (report.json)


class Check(Contract):
    """One check that was run, with its subject and outcome."""

    property: Literal["authenticity", "completeness", "usability", "security"]
    name: str
    subject: str = Field(description="what was checked: a volume key, a page, the manifest")
    passed: bool
    detail: str = ""


class Report(Contract):
    """report.json: every check run on a dossier and the verdict per property."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    checked_at: datetime
    tool: str
    summary: ReportSummary
    checks: list[Check]

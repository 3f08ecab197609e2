"""Disclosure copies (阅卷版): the profile that says what is removed for which recipient, and disclosure.json, the
manifest of a case's copies made under one profile."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import SCHEMA_VERSION, Contract, SecurityLevel
from pipeline.models._dossier import SignatureInfo

Category = Literal["id_number", "phone", "bank_card", "plate", "address", "name"]
"""What a detection is: 身份证号, 电话, 银行卡号, 车牌号, 住址, 姓名."""
Removable = Literal["id_number", "phone", "bank_card", "plate", "address"]
PersonRole = Literal["victim", "witness", "guardian", "expert", "suspect", "defendant", "other"]
Recipient = Literal["agency", "lawyer", "public"]
"""Who a copy is for: another agency (court, procuratorate, police), a defence lawyer, the public."""

CATEGORY_LABELS: dict[str, str] = {"id_number": "身份证号", "phone": "电话", "bank_card": "银行卡号",
                                   "plate": "车牌号", "address": "住址", "name": "姓名"}


class DisclosureProfile(Contract):
    """A disclosure profile (versioned YAML, pipeline/standards/disclosure/): what a copy for one kind of recipient
    leaves out."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
                      description="short name: the folder of the copies (cases/<key>/disclosure/<name>/)")
    id: str = Field(description="the profile as the 备考表 names it, e.g. 阅卷版（律师）")
    version: str
    title: str = ""
    basis: str = Field(default="", description="the rules followed, e.g. 法释〔2016〕19号 第八至十条")
    recipient: Recipient
    remove: list[Removable] = Field(description="numbers and addresses burnt out of pixels and text")
    pseudonymise: list[PersonRole] = Field(description="people whose given names become 某 (张某, 张某某)")
    minors: bool = Field(default=True, description="minors' names become 某 whatever their role")
    review: Literal["doubtful", "always", "never"] = Field(
        default="doubtful", description="when a person checks the detections before the copy is released")
    verify_by_ocr: bool = Field(default=True, description="read every rebuilt page again before release; what "
                                                          "is still found there is removed too and flagged")

    @property
    def key(self) -> str:
        """id@version, as the 备考表 and the XMP name it."""
        return f"{self.id} {self.version}"


class Detection(Contract):
    """One piece of personal data found on a page and what was done with it."""

    id: int = Field(description="number of the detection in the copy (review decisions name it)")
    volume: int
    page: int = Field(description="numbered page of the volume")
    kind: Category
    certain: bool = Field(description="false: in doubt (reviewed before release)")
    reason: str = ""
    action: Literal["removed", "pseudonymised", "kept"] = "removed"
    replacement: str = Field(default="", description="the 某 form a name was replaced by")
    boxes: list[tuple[int, int, int, int]] = Field(
        description="x0, y0, x1, y1 of every box painted on the page image (pixels); for a detection left visible, "
                    "where it stands")
    found_by: Literal["text-layer", "ocr"] = "text-layer"


class ReviewDecision(Contract):
    """A person's decision on the doubtful detections of a copy."""

    reviewer: str
    at: datetime
    kept: list[int] = Field(default_factory=list, description="detections judged not personal data: left visible")
    comment: str = ""


class DisclosureVolume(Contract):
    """One volume of a disclosure copy and the original it was made from."""

    number: int
    key: str = Field(description="object key relative to the copy's prefix, e.g. volumes/001.pdf")
    sha256: str
    bytes: int
    source_sha256: str = Field(description="SHA-256 of the original volume")
    pages: int
    pdf_pages: int
    counts: dict[str, int] = Field(description="detections removed or pseudonymised, by kind")
    signature: SignatureInfo | None = None


class DisclosureManifest(Contract):
    """disclosure.json: a case's copies under one profile (written last, beside the copies)."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    case_key: str
    security_level: SecurityLevel = "internal"
    profile: str = Field(description="the profile's short name")
    profile_id: str
    profile_version: str
    recipient: Recipient
    source_manifest_version: str | None = Field(description="the dossier.json version the copy was made from")
    source_manifest_sha256: str
    created: datetime
    made_by: str = Field(description="who ran the disclosure")
    approved_by: str = Field(default="", description="who released it (the reviewer of its doubtful detections)")
    review: ReviewDecision | None = None
    volumes: list[DisclosureVolume]
    catalogue_sha256: str | None = Field(default=None, description="SHA-256 of the copy's catalogue.json: the "
                                                                    "卷内目录 as the copy prints it")
    detections: list[Detection]
    counts: dict[str, int] = Field(description="detections removed or pseudonymised in the whole copy, by kind")
    object_versions: dict[str, str] = Field(default_factory=dict)
    supersedes: str | None = None

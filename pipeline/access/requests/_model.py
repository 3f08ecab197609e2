"""A request to read a case held by another agency (调卷函): its states, the steps between them, who takes each,
what is filed, and how a request and its history look to readers.

::

    filed ──review──► reviewed ──approve──► approved ──release──► released ──(first volume read)──► fetched
      │                  │                    │    └──release, not yet published──► waiting ──(published)─┘   │
      └──refuse──────────┴──refuse────────────┴──refuse (also from waiting)──► refused          released/fetched
                                                                                                 ──(expiry)──► expired

review and approve are taken at the requesting agency (reviewer = department head, approver = deputy chief);
release and refuse after approval by the holding agency's registrar (案管). Nobody takes a step on their own request,
and nobody takes two steps on the same request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.errors import BadInputError, RefusedError

MAX_DAYS = 365
MAX_REQUEST_ID = 2**31 - 1  # request ids are INTEGER columns (PostgreSQL's int4): a larger one names no request

STATE_LABELS = {
    "filed": "待部门负责人审核", "reviewed": "待分管领导审批", "approved": "待持有单位案管放行",
    "waiting": "已同意，待卷宗发布后放行", "released": "已放行，可查阅", "fetched": "已调阅，可查阅",
    "expired": "查阅期满", "refused": "未获批准",
}
STEP_LABELS = {
    "filed": "提交调卷函", "reviewed": "部门负责人审核通过", "approved": "分管领导审批通过",
    "waiting": "案管同意放行（卷宗待发布）", "released": "案管放行", "refused": "拒绝", "fetched": "调阅卷宗",
    "expired": "查阅期满，访问结束",
}
ACTION_LABELS = {"review": "审核通过", "approve": "审批通过", "release": "放行", "refuse": "拒绝"}
ROLE_LABELS = {"clerk": "内勤", "reviewer": "部门负责人", "approver": "分管领导", "registrar": "案管",
               "admin": "调卷管理员", "operator": "扫描员", "ops-admin": "管理员"}
OPEN_STATES = frozenset({"filed", "reviewed", "approved", "waiting"})
READABLE_STATES = frozenset({"released", "fetched"})


REQUESTER_KINDS = ("agency", "lawyer", "public")
"""What kind of requester an agency is: another agency (机关), a defence lawyer's firm, the public."""
DEFAULT_COPY = {"agency": "original", "lawyer": "disclosure", "public": "disclosure"}
"""What a release gives a kind of requester unless the registrar chooses otherwise: a lawyer gets the 阅卷版."""
COPY_LABELS = {"original": "原件", "disclosure": "阅卷版"}
PROFILE_LABELS = {"lawyer": "阅卷版（律师）", "public": "公开版", "agency": "调阅版（机关）"}


def copy_label(copy: str) -> str:
    """How a released copy reads: 原件, or the disclosure profile's name."""
    if not copy:
        return ""
    return COPY_LABELS.get(copy) or PROFILE_LABELS.get(copy, f"阅卷版（{copy}）")


def released_copy(choice: str | None, kind: str) -> str:
    """What a release gives: "original", or the disclosure profile for the requester's kind (its default when the
    registrar chose nothing)."""
    choice = choice or DEFAULT_COPY.get(kind, "original")
    if choice not in COPY_LABELS:
        raise BadInputError(f"copy must be original (原件) or disclosure (阅卷版), not {choice!r}")
    return "original" if choice == "original" else (kind if kind in PROFILE_LABELS else "lawyer")


@dataclass(frozen=True)
class Rule:
    """Who may take an action on a request in a given state: the role, at which side, and the step it records."""

    role: str
    side: str  # "requesting" or "holding"
    step: str


RULES: dict[tuple[str, str], Rule] = {
    ("review", "filed"): Rule("reviewer", "requesting", "reviewed"),
    ("approve", "reviewed"): Rule("approver", "requesting", "approved"),
    ("release", "approved"): Rule("registrar", "holding", "released"),
    ("refuse", "filed"): Rule("reviewer", "requesting", "refused"),
    ("refuse", "reviewed"): Rule("approver", "requesting", "refused"),
    ("refuse", "approved"): Rule("registrar", "holding", "refused"),
    ("refuse", "waiting"): Rule("registrar", "holding", "refused"),
}
ACTIONS = tuple(dict.fromkeys(action for action, _ in RULES))


class TransitionRefused(RefusedError):
    """The request is not in a state where that step can be taken (already taken, refused, or out of order)."""


class Filing(BaseModel):
    """What a clerk fills in on a 调卷函."""

    case_no: str = Field(description="案号 of the case asked for, any spelling", max_length=256)
    holding_agency: str = Field(description="the agency holding the case (court, procuratorate, police)",
                                max_length=200)
    legal_basis: str = Field(description="法律依据, e.g. 《刑事诉讼法》第四十条", min_length=1, max_length=500)
    reason: str = Field(description="调卷事由", min_length=1, max_length=2000)
    department: str = Field(description="the requesting department, e.g. 第一检察部", min_length=1, max_length=100)
    volumes: list[int] | None = Field(None, description="volume numbers asked for; empty or absent: all volumes")
    days: int = Field(30, ge=1, le=MAX_DAYS, description="access period asked for, in days from release")
    contact: str = Field(description="联系人及电话", min_length=1, max_length=200)

    @field_validator("legal_basis", "reason", "department", "contact")
    @classmethod
    def _text(cls, value: str) -> str:
        text = value.strip()
        if not text:
            raise ValueError("must not be blank")
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
            raise ValueError("contains a control character")
        return text

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[int] | None) -> list[int] | None:
        if not value:
            return None
        if any(n < 1 or n > 9999 for n in value) or len(value) > 200:
            raise ValueError("volume numbers run from 1 to 9999")
        return sorted(set(value))


def filing_from(**fields) -> Filing:
    """A Filing from loose values (CLI, web form), with a BadInputError naming the field that is wrong."""
    try:
        return Filing(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInputError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@dataclass(frozen=True)
class Event:
    """One step in a request's history."""

    step: str
    from_state: str | None
    to_state: str
    actor: str
    actor_name: str
    agency: str
    role: str
    at: datetime
    comment: str
    audit_ref: str

    @property
    def label(self) -> str:
        """The step in Chinese."""
        return STEP_LABELS.get(self.step, self.step)


@dataclass(frozen=True)
class RequestView:
    """A request as its readers see it."""

    id: int
    case_no: str
    requesting_agency: str
    holding_agency: str
    department: str
    legal_basis: str
    reason: str
    volumes: tuple[int, ...] | None
    days: int
    contact: str
    state: str
    filed_by: str
    filed_by_name: str
    filed_at: datetime
    reviewed_at: datetime | None
    approved_at: datetime | None
    decided_at: datetime | None
    released_at: datetime | None
    fetched_at: datetime | None
    expires_at: datetime | None
    closed_at: datetime | None
    version: int
    copy: str = ""  # what the release gives: "original" or a disclosure profile ("" until released)

    @property
    def state_label(self) -> str:
        """The state in Chinese."""
        return STATE_LABELS.get(self.state, self.state)

    @property
    def copy_label(self) -> str:
        """原件, 阅卷版（lawyer）…, or "" before the release."""
        return copy_label(self.copy)

    @property
    def volumes_label(self) -> str:
        """全部 or 第1、3卷."""
        return "全部" if self.volumes is None else "第" + "、".join(map(str, self.volumes)) + "卷"

    @classmethod
    def of(cls, row) -> RequestView:
        """From a database row of ``requests``."""
        volumes = tuple(int(n) for n in row.volumes.split(",")) if row.volumes else None
        names = [f for f in cls.__dataclass_fields__ if f != "volumes"]
        return cls(volumes=volumes, **{name: getattr(row, name) for name in names})

"""Who may publish what from which scanning room, and each room's own settings.

Two files decide a room's settings, and they are not trusted alike:

- the **rooms file** (``rooms.yaml`` in the state folder, or ``DOSSIER_ROOMS_FILE``, or ``dossier watch --rooms``),
  written by an administrator outside the hot folder: the agencies a room scans for (the first is the owner of its
  dossiers unless ``batch.json`` names another of them), the case numbers it may publish (regular expressions), and
  the standard profile, work queue and deployment of its runs. A room not in the file is not served.
- ``<room>/room.yaml``, which the room itself may write: only when its batches count as complete (``completion``,
  ``quiet_seconds``, ``settle_seconds``), when its runs pause for a 卷内目录 review (``review``) and a built-in
  profile by name. It can never point at a file.

Errors name the file, the field and the problem, never a value read from a file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.capture import open_regular
from pipeline.common import escaped, invisible_characters, syntax_problem, validation_problems
from pipeline.errors import BadInputError, ExitCode, RefusedError
from pipeline.models import BatchManifest
from pipeline.operations._names import ROOM_CONFIG, HotFolderError
from pipeline.standard import builtin_profiles

MAX_CONFIG_BYTES = 1024 * 1024
CASE_PATTERN_FLAGS = re.ASCII
"""Case-number patterns match ASCII classes only: ``\\d`` is 0-9, never another script's digits (२०२४)."""


class RoomsFileError(HotFolderError):
    """The administrator's rooms file is missing or invalid: no room is served until it is fixed."""

    exit_code = ExitCode.CONFIGURATION
    unavailable = "rooms"


class RoomFile(BaseModel):
    """``<room>/room.yaml``: what a scanning room may set itself (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    completion: Literal["marker", "quiet"] = Field(
        default="marker", description="marker: READY or batch.json written last; quiet: no change for quiet_seconds")
    quiet_seconds: float = Field(default=300.0, gt=0,
                                 description="quiet period; in marker mode also accepts a marker not written last")
    settle_seconds: float = Field(default=2.0, ge=0, description="sizes and mtimes must hold still this long")
    profile: str | None = Field(default=None, description="a built-in standard profile, by name")
    review: Literal["flagged", "always", "never"] | None = Field(
        default=None, description="when runs pause for a 卷内目录 review; overrides the profile's review")

    @field_validator("profile")
    @classmethod
    def _builtin_only(cls, value: str | None) -> str | None:
        if value is not None and value not in builtin_profiles():
            raise ValueError(f"must be a built-in profile ({', '.join(sorted(builtin_profiles()))}); a profile file "
                             f"is set by the administrator in the rooms file")
        return value


class RoomBinding(BaseModel):
    """One room in the administrator's rooms file."""

    model_config = ConfigDict(extra="forbid")

    agencies: list[str] = Field(min_length=1, description="agencies the room scans for; the first owns its dossiers "
                                                          "unless batch.json names another of these")
    case_numbers: list[str] = Field(min_length=1, description="regular expressions, matched in full against the "
                                                              "normalised case number (brackets folded to ASCII); "
                                                              "\\d, \\w and \\s are ASCII only")
    profile: str | None = Field(default=None, description="standard profile: built-in name or YAML path")
    review: Literal["flagged", "always", "never"] | None = Field(
        default=None, description="when runs pause for a 卷内目录 review; overrides the room's and the profile's")
    work_queue: str | None = Field(default=None, description="Prefect work queue; default: the room name")
    deployment: str | None = Field(default=None, description="deployment to run; default: the watcher's")

    @field_validator("agencies")
    @classmethod
    def _named(cls, value: list[str]) -> list[str]:
        if any(not a.strip() for a in value):
            raise ValueError("an agency name is blank")
        if any(invisible_characters(a) for a in value):
            raise ValueError("an agency name holds a character that draws nothing (a control, format or filler "
                             "character)")
        return [a.strip() for a in value]

    @field_validator("case_numbers")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern, CASE_PATTERN_FLAGS)
            except re.error as exc:
                raise ValueError(f"pattern {i + 1} is not a regular expression ({exc.msg})") from None
        return value


class RoomsFile(BaseModel):
    """The administrator's rooms file: ``rooms: {<room>: {agencies: [...], case_numbers: [...], ...}}``."""

    model_config = ConfigDict(extra="forbid")

    rooms: dict[str, RoomBinding] = Field(default_factory=dict)


class RoomPolicy(BaseModel):
    """What a run of a room's batch may publish: the room, its agencies and case-number patterns. Passed to the
    flow by the watcher (never read from the hot folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    room: str
    agencies: list[str] = Field(min_length=1)
    case_numbers: list[str] = Field(min_length=1)

    def owner_of(self, manifest: BatchManifest) -> str:
        """The agency that owns this batch's dossier (the room's, or the one of its agencies batch.json names);
        RefusedError when batch.json names an agency the room is not bound to or a case number it may not publish."""
        from pipeline.storage import normalise_case_no

        named = manifest.agency.strip()
        if named and named not in self.agencies:
            raise RefusedError(f"batch.json names agency '{escaped(named)}', but room {self.room} is bound to "
                               f"{', '.join(self.agencies)} by the administrator: refused")
        case = normalise_case_no(manifest.case_no)
        if not any(re.fullmatch(p, case, CASE_PATTERN_FLAGS) for p in self.case_numbers):
            raise RefusedError(f"case number {manifest.case_no} is not one room {self.room} may publish (the "
                               f"administrator's rooms file allows {len(self.case_numbers)} pattern(s)): refused")
        return named or self.agencies[0]


class RoomConfig(BaseModel):
    """A room's settings as the watcher uses them: the room's own (room.yaml) under the administrator's binding."""

    model_config = ConfigDict(extra="forbid")

    completion: Literal["marker", "quiet"] = "marker"
    quiet_seconds: float = Field(default=300.0, gt=0)
    settle_seconds: float = Field(default=2.0, ge=0)
    profile: str | None = None
    review: Literal["flagged", "always", "never"] | None = None
    work_queue: str | None = None
    deployment: str | None = None
    policy: RoomPolicy | None = None  # None only where no administrator bound the room (library use, tests)


def _read_config(path: Path) -> object:
    """A small YAML file's data, read only if it is a regular file; errors without the file's contents."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > MAX_CONFIG_BYTES:
            raise HotFolderError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes")
        raw = fh.read(MAX_CONFIG_BYTES)
    try:
        return yaml.safe_load(raw.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:  # YAML nested 100,000 deep: RecursionError
        raise HotFolderError(f"{path}: {syntax_problem(exc)}") from None


def load_room_file(room_dir: Path) -> RoomFile:
    """The room's own settings from ``room.yaml`` (defaults when absent); HotFolderError naming the file and field."""
    path = room_dir / ROOM_CONFIG
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return RoomFile()
    if not stat.S_ISREG(st.st_mode):
        raise HotFolderError(f"{path}: not a regular file (a link, pipe or folder): refused")
    try:
        return RoomFile.model_validate(_read_config(path))
    except BadInputError as exc:
        raise HotFolderError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise HotFolderError(f"{path}: invalid room configuration: {validation_problems(exc)}") from None


def load_rooms_file(path: Path) -> RoomsFile:
    """The administrator's rooms file; HotFolderError naming the file and the fields when it is missing or invalid."""
    if not path.exists():
        raise RoomsFileError(f"no rooms file at {path}: an administrator must bind each room to its agencies and "
                             f"case numbers (see docs/guide/admins.md)")
    try:
        return RoomsFile.model_validate(_read_config(path))
    except (BadInputError, HotFolderError) as exc:
        raise RoomsFileError(f"rooms file {path}: {exc}") from None
    except ValidationError as exc:
        raise RoomsFileError(f"rooms file {path} is invalid: {validation_problems(exc)}") from None


def room_config(room: str, room_dir: Path, rooms: RoomsFile | None) -> RoomConfig:
    """A room's settings: its room.yaml under its binding in the rooms file (None: no binding, library use only)."""
    own = load_room_file(room_dir)
    if rooms is None:
        return RoomConfig(**own.model_dump())
    binding = rooms.rooms.get(room)
    if binding is None:
        raise HotFolderError(f"room {room} is not in the administrator's rooms file: its batches are not taken")
    policy = RoomPolicy(room=room, agencies=binding.agencies, case_numbers=binding.case_numbers)
    return RoomConfig(completion=own.completion, quiet_seconds=own.quiet_seconds, settle_seconds=own.settle_seconds,
                      profile=binding.profile or own.profile, review=binding.review or own.review,
                      work_queue=binding.work_queue,
                      deployment=binding.deployment, policy=policy)

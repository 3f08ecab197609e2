"""Per-room settings, read from ``<room>/room.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.operations._names import ROOM_CONFIG, HotFolderError


class RoomConfig(BaseModel):
    """Per-room settings, read from ``<room>/room.yaml``; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    completion: Literal["marker", "quiet"] = Field(
        default="marker", description="marker: READY or batch.json written last; quiet: no change for quiet_seconds")
    quiet_seconds: float = Field(default=300.0, gt=0,
                                 description="quiet period; in marker mode also accepts a marker not written last")
    settle_seconds: float = Field(default=2.0, ge=0, description="sizes and mtimes must hold still this long")
    profile: str | None = Field(default=None, description="standard profile (built-in name or YAML path)")
    review: Literal["flagged", "always", "never"] | None = Field(
        default=None, description="when runs pause for a 卷内目录 review; overrides the profile's review")
    work_queue: str | None = Field(default=None, description="Prefect work queue; default: the room name")
    deployment: str | None = Field(default=None, description="deployment to run; default: the watcher's")


def load_room_config(room_dir: Path) -> RoomConfig:
    """The room's settings from ``room.yaml`` (defaults when absent); raises HotFolderError naming the file."""
    path = room_dir / ROOM_CONFIG
    if not path.is_file():
        return RoomConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return RoomConfig.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise HotFolderError(f"{path}: invalid room configuration: {exc}") from exc

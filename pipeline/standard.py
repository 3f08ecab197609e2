"""Load and validate digitization standard profiles (versioned YAML)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from pipeline.common.problems import syntax_problem, validation_problems
from pipeline.errors import ProfileError
from pipeline.models import StandardProfile

DEFAULT_PROFILE = "dat31-2017.yaml"


def builtin_profiles() -> dict[str, Path]:
    """The profiles shipped with the package, by file stem."""
    folder = resources.files("pipeline") / "standards"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def load_profile(source: str | Path | None = None) -> StandardProfile:
    """Load a profile from a YAML path or a built-in name (``dat31-2017``); None means the default profile."""
    if source is None:
        path = builtin_profiles()[Path(DEFAULT_PROFILE).stem]
    else:
        candidate = Path(source)
        builtins = builtin_profiles()
        if candidate.exists():
            path = candidate
        elif str(source) in builtins:
            path = builtins[str(source)]
        else:
            raise ProfileError(f"standard profile {source!s} not found (built-in: {', '.join(sorted(builtins))})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read standard profile {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:  # said without the file's text: errors reach reason.txt
        raise ProfileError(f"standard profile {path}: {syntax_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"standard profile {path} is not a mapping")
    try:
        return StandardProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"standard profile {path} is invalid: {validation_problems(exc)}") from None

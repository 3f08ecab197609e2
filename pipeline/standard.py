"""Load and validate the versioned YAML profiles: digitization standards (pipeline/standards/) and disclosure
profiles (pipeline/standards/disclosure/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.common.problems import syntax_problem, validation_problems
from pipeline.errors import ProfileError
from pipeline.models import DisclosureProfile, StandardProfile

DEFAULT_PROFILE = "dat31-2017.yaml"
DEFAULT_DISCLOSURE = "lawyer"

Model = TypeVar("Model", bound=BaseModel)


def _builtins(*folder: str) -> dict[str, Path]:
    root = resources.files("pipeline") / "standards"
    for part in folder:
        root = root / part
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def builtin_profiles() -> dict[str, Path]:
    """The digitization standard profiles shipped with the package, by file stem."""
    return _builtins()


def builtin_disclosure_profiles() -> dict[str, Path]:
    """The disclosure profiles shipped with the package, by name (lawyer, public, agency)."""
    return _builtins("disclosure")


def _load(source: str | Path, builtins: dict[str, Path], model: type[Model], what: str) -> Model:
    candidate = Path(source)
    if candidate.exists():
        path = candidate
    elif str(source) in builtins:
        path = builtins[str(source)]
    else:
        raise ProfileError(f"{what} {source!s} not found (built-in: {', '.join(sorted(builtins))})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read {what} {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:  # said without the file's text: errors reach reason.txt
        raise ProfileError(f"{what} {path}: {syntax_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{what} {path} is not a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"{what} {path} is invalid: {validation_problems(exc)}") from None


def load_profile(source: str | Path | None = None) -> StandardProfile:
    """Load a profile from a YAML path or a built-in name (``dat31-2017``); None means the default profile."""
    return _load(source or Path(DEFAULT_PROFILE).stem, builtin_profiles(), StandardProfile, "standard profile")


def load_disclosure_profile(source: str | Path | None = None) -> DisclosureProfile:
    """Load a disclosure profile from a YAML path or a built-in name (``lawyer``, ``public``, ``agency``); None
    means the lawyer's."""
    return _load(source or DEFAULT_DISCLOSURE, builtin_disclosure_profiles(), DisclosureProfile,
                 "disclosure profile")

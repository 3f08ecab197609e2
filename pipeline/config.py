"""Where the pipeline keeps its state and how wide it runs, resolved once at the edges (CLI, flows).

Environment: ``DOSSIER_HOME`` (state folder: store data, credentials, caches, development key; default ``./.state``),
``DOSSIER_WORKERS`` (pages processed at once; default the number of cores).
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir(explicit: str | Path | None = None) -> Path:
    """The state folder: the explicit one, else $DOSSIER_HOME, else ./.state (created if missing)."""
    folder = Path(explicit or os.environ.get("DOSSIER_HOME") or ".state").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_workers() -> int:
    """Pages processed at once: $DOSSIER_WORKERS, else one per core."""
    value = os.environ.get("DOSSIER_WORKERS")
    if value:
        return max(1, int(value))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))

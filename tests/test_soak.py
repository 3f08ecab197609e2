"""The short soak run (``bench/soak.py --short``): the whole stack, three rooms dropping batches in every way rooms do,
and one fault of each kind (a worker's run killed mid-page and mid-publish, the watcher, the fetch service and the
Prefect server killed, the store stopped and frozen, the state disk filled, and a watcher running its batch in-process
killed while its run holds the case lock — the next watcher must publish that case), then the same checks as the full
run.

``DOSSIER_SOAK_SEED`` replays another seed; the full run is ``python bench/soak.py`` (see its report for figures).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.soak import SoakConfig, report, run_soak

pytestmark = [pytest.mark.soak, pytest.mark.slow]

SEED = int(os.environ.get("DOSSIER_SOAK_SEED", "16"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scan-to-dossier" / "soak-pages"


def test_a_short_soak_run_loses_nothing_doubles_nothing_and_leaves_no_process_behind(tmp_path):
    lines: list[str] = []
    result = run_soak(SoakConfig.short(SEED), tmp_path / "soak", CACHE,
                      log=lambda m: lines.append(f"[{time.strftime('%H:%M:%S')}] {m}"))
    print("\n".join(lines))
    print(report(result))
    assert result.ok, report(result) + "\n" + "\n".join(lines[-40:])
    assert result.batches >= 5 and result.done >= 3
    assert result.faults == SoakConfig.short(SEED).faults

"""Publishing a fake dossier through the real publish step of the flow (``flows.tasks.publish_task``): the owner
recorded in a test's own access database, the publication audited, dossier.json last, with the default profile."""

from __future__ import annotations

from pathlib import Path

from flows.publication import run_identity
from flows.tasks import publish_task
from pipeline.standard import load_profile
from pipeline.storage import StoreConfig
from tests.store_fixtures import make_dossier


def database_url(tmp_path: Path) -> str:
    """The test's access database (SQLite, made by the first publication)."""
    return f"sqlite:///{tmp_path / 'access.db'}"


def publish_with_task(config: StoreConfig, tmp_path: Path, case_no: str, label: str, who: dict | None = None,
                      agency: str = "豫0727法院") -> dict:
    """A fake dossier labelled ``label`` published as a run does; the task's result."""
    manifest, out, _ = make_dossier(tmp_path / label, case_no, label=label, agency=agency)
    return publish_task.fn(config, out, manifest, tmp_path / label / "batch-01", load_profile(None),
                           who or run_identity("process", "room-1"), database_url(tmp_path))

"""What a run may publish, decided before any page work and checked again before publishing: the real hot folder and
intake, the process-batch flow run in this process (the watcher's in-process mode), a Prefect test server and the
real store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.errors import BadInputError, RefusedError
from pipeline.models import DossierManifest
from pipeline.operations import HotFolder, Intake, Ledger
from pipeline.settings import SigningSettings, StoreSettings
from pipeline.storage import DossierNotFound, ObjectStore, StoreConfig, read_dossier_manifest
from samples import hostile
from tests.ops_fixtures import DOSSIER, ROOT, make_batch, store_environment, subprocess_env, wait_for, write_profile
from tests.store_fixtures import unique_case_no


@pytest.fixture(scope="module")
def env(embedded_store, prefect_harness, tmp_path_factory):
    """The store's settings in this process's environment, and a no-OCR test profile."""
    mp = pytest.MonkeyPatch()
    for k, v in store_environment(embedded_store).items():
        mp.setenv(k, v)
    yield write_profile(tmp_path_factory.mktemp("profile"))
    mp.undo()


def store() -> ObjectStore:
    return ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), Path(".")))


class Hot:
    """A hot folder whose rooms are bound by the test's rooms file, fed to an intake that runs flows here."""

    def __init__(self, base: Path, profile: Path, bindings: dict[str, tuple[str, ...]], submitter=None):
        from flows.inprocess import InProcessSubmitter

        self.root, self.state = base / "hot", base / "state"
        for room in bindings:
            (self.root / room).mkdir(parents=True)
            (self.root / room / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
        rooms = base / "admin" / "rooms.yaml"
        rooms.parent.mkdir(parents=True)
        rooms.write_text(yaml.safe_dump({"rooms": {room: {"agencies": list(agencies), "case_numbers": [".*"],
                                                          "profile": str(profile)}
                                                   for room, agencies in bindings.items()}}, allow_unicode=True),
                         encoding="utf-8")
        self.intake = Intake(HotFolder(self.root, rooms), Ledger(self.state),
                             submitter or InProcessSubmitter(self.state), log=lambda m: None, status_seconds=0)

    def run(self, room: str, name: str, build) -> str:
        """Drop a batch, let the intake claim and run it here, and return where it ended: done or quarantine."""
        folder = self.root / room / name
        folder.mkdir()
        build(folder)
        (folder / "READY").write_bytes(b"")
        def settled() -> str | None:
            self.intake.tick(full_scan=True)
            return next((o for o in ("done", "quarantine") if (self.root / o / room / name).is_dir()), None)

        return wait_for(settled, 300, f"batch {room}/{name} to be settled", interval=0.2)

    def reason(self, room: str, name: str) -> str:
        return (self.root / "quarantine" / room / name / "reason.txt").read_text(encoding="utf-8")


def batch(case_no: str, **fields):
    def build(folder: Path) -> None:
        make_batch(folder, case_no, pages=("001.jpg",))
        hostile.manifest(folder, case_no, documents=[{"title": "起诉书", "pages": 1}], **fields)
    return build


def test_the_dossier_belongs_to_the_rooms_agency_and_grants_never_come_from_batch_json(env, tmp_path):
    hot = Hot(tmp_path, env, {"room-1": (hostile.AGENCY,)})
    case_no = unique_case_no()
    assert hot.run("room-1", "b1", batch(case_no, agency="", grants=[hostile.OTHER_AGENCY])) == "done"
    manifest = read_dossier_manifest(store(), case_no)
    assert manifest.agency == hostile.AGENCY and manifest.grants == []


def test_a_batch_that_would_supersede_another_agencys_dossier_is_refused(env, tmp_path):
    hot = Hot(tmp_path, env, {"room-1": (hostile.AGENCY,), "room-2": (hostile.OTHER_AGENCY,)})
    case_no = unique_case_no()
    assert hot.run("room-1", "first", batch(case_no)) == "done"
    version = store().stat(f"cases/{read_dossier_manifest(store(), case_no).case_key}/dossier.json").version_id
    assert hot.run("room-2", "takeover", batch(case_no, agency=hostile.OTHER_AGENCY)) == "quarantine"
    reason = hot.reason("room-2", "takeover")
    assert "published by another agency" in reason and hostile.AGENCY not in reason  # the room learns nothing of it
    latest = store().stat(f"cases/{read_dossier_manifest(store(), case_no).case_key}/dossier.json")
    assert latest.version_id == version and read_dossier_manifest(store(), case_no).agency == hostile.AGENCY


class ChangingSubmitter:
    """Runs the flow here, but first changes a page of the claimed batch (as a room still holding it open would)."""

    def __init__(self, state: Path):
        from flows.inprocess import InProcessSubmitter

        self.inner = InProcessSubmitter(state)

    def submit(self, entry, batch_dir, config):
        with open(Path(batch_dir) / "001.jpg", "ab") as fh:
            fh.write(b"\0late bytes")
        return self.inner.submit(entry, batch_dir, config)

    def status(self, run_id):
        return self.inner.status(run_id)

    def retry(self, entry, batch_dir, config, delay_seconds):
        return self.inner.retry(entry, batch_dir, config, delay_seconds)


def test_a_batch_changed_after_its_claim_is_refused_before_any_work(env, tmp_path):
    hot = Hot(tmp_path, env, {"room-1": (hostile.AGENCY,)}, ChangingSubmitter(tmp_path / "state"))
    case_no = unique_case_no()
    assert hot.run("room-1", "b1", batch(case_no)) == "quarantine"
    assert "no longer what was claimed" in hot.reason("room-1", "b1")
    with pytest.raises(DossierNotFound):
        read_dossier_manifest(store(), case_no)


def test_a_batch_changed_while_it_is_processed_is_not_published(env, tmp_path, monkeypatch):
    from flows.process import process_batch
    from pipeline import dossier

    folder = tmp_path / "b1"
    case_no = unique_case_no()
    batch(case_no)(folder)
    real = dossier.make_volume

    def make_volume(*args, **kwargs):  # the page is rewritten while the volumes are built
        (folder / "001.jpg").write_bytes((hostile.SAMPLE / "009.jpg").read_bytes())
        return real(*args, **kwargs)

    monkeypatch.setattr(dossier, "make_volume", make_volume)
    with pytest.raises(BadInputError, match="changed while it was processed"):
        process_batch(str(folder), profile=str(env), state=str(tmp_path / "state"))
    with pytest.raises(DossierNotFound):
        read_dossier_manifest(store(), case_no)


def test_a_classified_batch_is_refused_at_ingest_before_any_page_work(env, tmp_path, monkeypatch):
    from flows.process import process_batch

    monkeypatch.setenv("DOSSIER_S3_MAX_SECURITY", "internal")
    folder, state = tmp_path / "b1", tmp_path / "state"
    batch(unique_case_no(), security_level="secret")(folder)
    with pytest.raises(RefusedError, match="'secret'.*before any page was processed"):
        process_batch(str(folder), profile=str(env), state=str(state))
    assert not (state / "cache" / "pages").exists() and not (state / "work").exists()


def test_an_all_blank_batch_is_refused_with_its_reason_before_any_volume(env, tmp_path):
    from flows.process import process_batch

    folder, state = tmp_path / "blank", tmp_path / "state"
    folder.mkdir()
    hostile.blank_pages(folder, unique_case_no())
    with pytest.raises(BadInputError, match=r"all 3 page\(s\) of the batch are blank .*001.png"):
        process_batch(str(folder), profile=str(env), state=str(state))
    assert not list((state / "work").rglob("*.pdf"))


def test_publishing_without_a_configured_key_is_refused_outside_the_demo(env, tmp_path):
    batch(unique_case_no())(tmp_path / "b1")
    environ = subprocess_env({"DOSSIER_HOME": str(tmp_path / "state")})
    environ.pop("DOSSIER_DEVELOPMENT_KEY", None)
    done = subprocess.run([*DOSSIER, "process", str(tmp_path / "b1"), "--profile", str(env), "--no-progress"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert done.returncode == 8, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no signing key is configured" in done.stderr and "--development-key" in done.stderr
    assert not (tmp_path / "state" / "signing").exists()


def test_the_pipelines_checks_trust_the_development_certificate_only_when_asked(tmp_path):
    from pipeline.archival import development_certificate, ensure_development_signer
    from pipeline.dossier import trust_roots_for_run

    ensure_development_signer(tmp_path)
    assert trust_roots_for_run(SigningSettings(DOSSIER_DEVELOPMENT_KEY=False), tmp_path) == []
    assert trust_roots_for_run(SigningSettings(DOSSIER_DEVELOPMENT_KEY=True), tmp_path) == [
        development_certificate(tmp_path)]


def test_a_dossier_signed_with_the_development_key_does_not_verify_without_the_switch(env, tmp_path):
    from flows.process import process_batch

    case_no, state = unique_case_no(), tmp_path / "state"
    batch(case_no)(tmp_path / "b1")
    result = process_batch(str(tmp_path / "b1"), profile=str(env), state=str(state), publish=False)
    folder = Path(result["folder"])
    assert DossierManifest.model_validate_json((folder / "dossier.json").read_bytes()).volumes[0].signature
    environ = subprocess_env({"DOSSIER_HOME": str(state)})
    environ.pop("DOSSIER_DEVELOPMENT_KEY", None)
    plain = subprocess.run([*DOSSIER, "verify", str(folder), "--no-qpdf"], cwd=ROOT, env=environ,
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode == 6, plain.stdout[-2000:]
    demo = subprocess.run([*DOSSIER, "verify", str(folder), "--no-qpdf", "--development-key"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout[-2000:]

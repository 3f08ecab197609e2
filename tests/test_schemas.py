"""The JSON Schemas in schemas/ are exactly what the models generate, and the shipped files validate against them."""

import json
from pathlib import Path

import pytest

from pipeline.models import BatchManifest, StandardProfile
from pipeline.schemas import SCHEMAS, schema_text
from pipeline.standard import load_profile

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_checked_in_schema_matches_the_model(name):
    on_disk = (ROOT / "schemas" / name).read_text(encoding="utf-8")
    assert on_disk == schema_text(name, SCHEMAS[name]), f"schemas/{name} is stale: run `make schemas`"


def test_every_schema_file_comes_from_a_model():
    files = {p.name for p in (ROOT / "schemas").glob("*.schema.json")}
    assert files == set(SCHEMAS)


def test_sample_batch_manifests_are_valid():
    manifests = list((ROOT / "samples").glob("*/batch.json"))
    assert manifests
    for path in manifests:
        BatchManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))


def test_default_profile_follows_da_t_31():
    profile = load_profile()
    assert isinstance(profile, StandardProfile)
    assert profile.id == "DA/T 31-2017"
    assert profile.resolution.min_dpi == 200
    assert profile.volumes.max_pages == 200
    assert profile.pdfa.level == "1b"
    assert profile.signing.enabled

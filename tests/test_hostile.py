"""The bad-input suite's fast subset (bench/hostile.py runs all of it): hostile batches dropped at once beside good
ones into a real hot folder, taken by the real watcher with flows run in its process, Prefect and the store. Every
hostile batch is refused with a reason naming the file (or published when its tricky page must be kept), none
hangs, the watcher survives, and the good batches of the room still publish."""

from __future__ import annotations

import pytest

from bench.hostile import run_suite
from samples import hostile
from tests.ops_fixtures import store_environment

SUBSET = ("fifo", "fifo-link", "link-passwd", "hard-link", "sparse-1tb", "png-bomb", "tiff-bomb-frame-2",
          "eps-as-png", "pdf-javascript", "pdf-encrypted", "name-bidi", "other-agency", "classified", "claim-link",
          "room-yaml-passwd", "qr-content-page",
          # issue 30: names, nesting, resolution tags, decoding bombs, fillers, Extension B text
          "name-circled-digit", "manifest-deep", "dpi-65535", "dpi-nan", "jpeg-scan-bomb", "pdf-line-bomb",
          "case-filler-3164", "agency-filler", "title-ext-b", "remark-bidi")


@pytest.fixture(scope="module")
def suite(embedded_store, prefect_harness, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    for k, v in {**store_environment(embedded_store), "DOSSIER_S3_MAX_SECURITY": "internal"}.items():
        mp.setenv(k, v)
    cases = [c for c in hostile.cases() if c.name in SUBSET]
    assert len(cases) == len(SUBSET)
    yield run_suite(tmp_path_factory.mktemp("hostile"), cases, limit=120.0, log=lambda m: None)
    mp.undo()


def test_every_hostile_batch_is_refused_by_name_or_kept_as_it_must_be(suite):
    outcomes, _ = suite
    wrong = [(o.case.name, o.verdict, o.detail) for o in outcomes if o.verdict != o.case.expect]
    assert not wrong, wrong


def test_no_hostile_batch_hangs_or_crashes_the_watcher(suite):
    _, totals = suite
    assert totals["hung"] == 0 and totals["crashed"] == 0 and not totals["watcher_crashed"], totals


def test_the_good_batches_of_the_room_still_publish(suite):
    _, totals = suite
    assert totals["good_published"] == totals["good"] == 2, totals

"""What a run leaves for a rerun: a volume is reused only when everything it is built from is unchanged."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from pipeline.assembly import VolumeContext
from pipeline.dossier import CONTEXT_NOT_DIGESTED, volume_input_digest
from pipeline.models import CatalogueEntry
from pipeline.standard import load_profile
from pipeline.structure import VolumePlan

PLAN = VolumePlan(number=1, of=2, parts=())
ENTRY = CatalogueEntry(seq=1, title="起诉书", first_page=1, last_page=3, document=0, author="新封县人民检察院",
                       date="2024-01-02")
CONTEXT = VolumeContext(case_no="（2024）豫0727刑初172号", case_title="张某某盗窃案", agency="新封县人民法院", number=1,
                        of=2, retention="永久", security_level="internal", standard="dat31-2017@1.2.0",
                        pipeline_version="0.1.0", entries=(ENTRY,), date_range=("2024-01-02", "2024-01-02"),
                        blank_pages=1, flagged=((2, "模糊"),), prepared_by="立卷人", checked_by="检查人",
                        prepared_on=date(2024, 3, 1), extra={"binding": "左侧装订"})
CHANGED = {"case_no": "（2024）豫0727刑初173号", "case_title": "李某某盗窃案", "agency": "新封县人民检察院",
           "retention": "长期", "security_level": "secret", "standard": "dat31-2017@1.3.0",
           "entries": (ENTRY.model_copy(update={"title": "判决书"}),), "date_range": ("2024-01-02", "2024-02-03"),
           "blank_pages": 2, "flagged": ((3, "模糊"),), "prepared_by": "另一人", "checked_by": "另一人",
           "extra": {"binding": "右侧装订"}, "copy_mark": "阅卷版（律师）", "copy_note": "阅卷版：依 阅卷版（律师） 1.0.0 遮蔽 2 处"}


def digest(context: VolumeContext) -> str:
    return volume_input_digest(PLAN, context, {}, load_profile())


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_volume_built_from_a_context_that_differs_in_any_field_is_built_again(name):
    assert digest(dataclasses.replace(CONTEXT, **{name: CHANGED[name]})) != digest(CONTEXT)


def test_every_field_of_the_volume_context_is_either_digested_or_named_as_left_out():
    assert {f.name for f in dataclasses.fields(VolumeContext)} == set(CHANGED) | CONTEXT_NOT_DIGESTED


def test_a_volume_prepared_on_another_day_is_reused():
    assert digest(dataclasses.replace(CONTEXT, prepared_on=date(2025, 1, 1))) == digest(CONTEXT)


def test_a_field_added_to_the_volume_context_takes_part_in_the_volume_digest():
    @dataclasses.dataclass(frozen=True)
    class WiderContext(VolumeContext):
        archive_office: str = ""

    wider = WiderContext(**{f.name: getattr(CONTEXT, f.name) for f in dataclasses.fields(VolumeContext)})
    assert digest(dataclasses.replace(wider, archive_office="档案室")) != digest(wider)

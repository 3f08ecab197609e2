"""Documents and their boundaries, the 卷内目录 fields, volume plans."""

from pipeline.structure._boundaries import find_documents
from pipeline.structure._headings import has_title
from pipeline.structure._layout import PageLayout
from pipeline.structure._lexicon import levenshtein
from pipeline.structure._regions import Region, field_region
from pipeline.structure._review import (
    DOUBT_WORDS,
    LABELS,
    ReviewedRow,
    apply_review,
    doubt_words,
    entry_in_doubt,
    field_name,
    reapply,
    reviewed_date,
    reviewed_documents,
    volumes_to_review,
)
from pipeline.structure._types import FIELDS, Document, VolumePart, VolumePlan
from pipeline.structure._volumes import build_catalogue, plan_volumes, volume_catalogue

__all__ = [
    "DOUBT_WORDS",
    "FIELDS",
    "LABELS",
    "Document",
    "PageLayout",
    "Region",
    "ReviewedRow",
    "apply_review",
    "doubt_words",
    "entry_in_doubt",
    "field_name",
    "field_region",
    "reapply",
    "reviewed_date",
    "reviewed_documents",
    "volumes_to_review",
    "VolumePart",
    "VolumePlan",
    "build_catalogue",
    "find_documents",
    "has_title",
    "levenshtein",
    "plan_volumes",
    "volume_catalogue",
]

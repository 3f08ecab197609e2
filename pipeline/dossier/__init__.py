"""One dossier from processed pages: structure → assembly → archival → the local dossier folder, and its publication."""

from pipeline.dossier._dossier import (
    finish_dossier,
    make_volume,
    place_pages,
    preload_volume_stage,
    publish_folder,
    require_content,
    require_no_review,
    require_owner,
    require_signing_key,
    signer_for_run,
    trust_roots_for_run,
    volume_context,
)

__all__ = [
    "finish_dossier",
    "make_volume",
    "place_pages",
    "preload_volume_stage",
    "publish_folder",
    "require_content",
    "require_no_review",
    "require_owner",
    "require_signing_key",
    "signer_for_run",
    "trust_roots_for_run",
    "volume_context",
]

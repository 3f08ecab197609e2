"""One dossier from processed pages: structure → assembly → archival → the local dossier folder, and its publication;
its disclosure copies (阅卷版), made from the published volumes and published beside them."""

from pipeline.dossier._disclose import (
    DISCLOSURE_NAME,
    REVIEW_NAME,
    CopyOrder,
    Source,
    doubtful,
    fetch_source,
    make_copy,
    publish_copy,
)
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
from pipeline.dossier._recipient import Recipient, copy_for_recipient, new_copy_id, read_copy

__all__ = [
    "DISCLOSURE_NAME",
    "REVIEW_NAME",
    "CopyOrder",
    "Recipient",
    "Source",
    "copy_for_recipient",
    "doubtful",
    "fetch_source",
    "make_copy",
    "new_copy_id",
    "publish_copy",
    "read_copy",
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

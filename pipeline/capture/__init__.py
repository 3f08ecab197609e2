"""Reading a batch: its manifest, its page files of every accepted kind, each page decoded and hashed, separator sheets
decoded. Nothing here ever writes to a batch."""

from pipeline.capture._ingest import (
    MANIFEST_NAME,
    READY_MARKER,
    PageRef,
    RawPage,
    batch_files,
    list_pages,
    page_file_digest,
    read_manifest,
    read_page,
)
from pipeline.capture._separator import SeparatorResult, decode_payload, encode_payload, find_separator, qr_modules

__all__ = [
    "MANIFEST_NAME",
    "PageRef",
    "READY_MARKER",
    "RawPage",
    "SeparatorResult",
    "batch_files",
    "decode_payload",
    "encode_payload",
    "find_separator",
    "list_pages",
    "page_file_digest",
    "qr_modules",
    "read_manifest",
    "read_page",
]

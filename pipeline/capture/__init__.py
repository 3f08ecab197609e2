"""Reading a batch: its manifest, its page files of every accepted kind, each page decoded and hashed, separator sheets
decoded. Files are looked at without opening them first (links, pipes, names, sizes); nothing here ever writes to a
batch."""

from pipeline.capture._ingest import (
    PageRef,
    RawPage,
    batch_files,
    list_pages,
    page_file_digest,
    read_batch_manifest,
    read_page,
)
from pipeline.capture._inspect import (
    MANIFEST_NAME,
    READY_MARKER,
    BatchFile,
    check_folder,
    inspect_batch,
    name_problem,
    open_regular,
    sha256_regular,
    shown,
)
from pipeline.capture._separator import SeparatorResult, decode_payload, encode_payload, find_separator, qr_modules

__all__ = [
    "MANIFEST_NAME",
    "BatchFile",
    "PageRef",
    "READY_MARKER",
    "RawPage",
    "SeparatorResult",
    "batch_files",
    "check_folder",
    "decode_payload",
    "encode_payload",
    "find_separator",
    "inspect_batch",
    "list_pages",
    "name_problem",
    "open_regular",
    "page_file_digest",
    "qr_modules",
    "read_batch_manifest",
    "read_page",
    "sha256_regular",
    "shown",
]

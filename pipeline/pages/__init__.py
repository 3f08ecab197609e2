"""One page: hash → separator? → imaging → archive encoding → OCR, cached by content."""

from pipeline.pages._artifact import PageArtifact
from pipeline.pages._process import PageCache, PageEnvironment, chunked, encode_archive, page_cache_key, process_pages

__all__ = [
    "PageArtifact",
    "PageCache",
    "PageEnvironment",
    "chunked",
    "encode_archive",
    "page_cache_key",
    "process_pages",
]

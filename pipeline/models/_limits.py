"""The input limits of a standard profile (its ``input:`` section): what a batch may hold, checked before any file is
decoded or hashed. Part of the profile's contract (``schemas/standard.schema.json``)."""

from __future__ import annotations

from pydantic import Field

from pipeline.models._base import Contract


class InputPolicy(Contract):
    """Limits on what a batch may hold, checked before a file is decoded or hashed (hostile or broken input)."""

    max_files: int = Field(default=5000, ge=1, description="files in one batch at most")
    max_pages: int = Field(default=5000, ge=1, description="pages in one batch at most (every frame of every file)")
    max_file_bytes: int = Field(default=2 * 1024**3, ge=1, description="bytes of one file at most")
    max_batch_bytes: int = Field(default=32 * 1024**3, ge=1, description="bytes of all the batch's files at most")
    max_frames: int = Field(default=1000, ge=1, description="pages of one multi-page TIFF or PDF at most")
    max_pixels: int = Field(default=150_000_000, ge=1,
                            description="pixels of one page image at most (a 600-dpi A2 sheet); larger is refused "
                                        "as a decompression bomb")
    pdf_render_dpi: int = Field(default=300, ge=72, le=1200,
                                description="resolution a PDF page is rendered at when its image cannot be taken over")
    max_pdf_page_mm: float = Field(default=1200.0, gt=0,
                                   description="longer side of a PDF page at most (A0 is 1189 mm)")
    max_decode_cpu_seconds: float = Field(default=10.0, gt=0, le=3600,
                                          description="CPU-seconds decoding one page (or listing one file's pages) may "
                                                      "take; more is a decoding bomb, refused. The costliest real "
                                                      "page measured took 2 (a 150 Mpx progressive JPEG)")

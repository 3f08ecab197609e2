"""Volume PDFs: cover, 卷内目录, 备考表, page numbers, the invisible text layer, fonts; printed separator sheets."""

from pipeline.assembly._fonts import cjk_font, numeral_font
from pipeline.assembly._pageimage import ScannedImage, scanned_image
from pipeline.assembly._render import build_volume
from pipeline.assembly._sheets import SheetError, load_sheet_list, separator_page_image, sheet_payloads, write_sheets
from pipeline.assembly._textlayer import add_text_layer
from pipeline.assembly._textread import LayerChar, LayerPage, numbered_pages, page_image, read_layer_page
from pipeline.assembly._types import BuiltVolume, VolumeContext

__all__ = [
    "BuiltVolume",
    "LayerChar",
    "LayerPage",
    "ScannedImage",
    "SheetError",
    "VolumeContext",
    "add_text_layer",
    "build_volume",
    "cjk_font",
    "load_sheet_list",
    "numbered_pages",
    "numeral_font",
    "page_image",
    "read_layer_page",
    "scanned_image",
    "separator_page_image",
    "sheet_payloads",
    "write_sheets",
]

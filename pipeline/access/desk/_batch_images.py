"""A batch's pictures on the desk: the thumbnails of its pages (the bad ones marked by the page) and the contact sheet
of each volume its run drew — both read from what the run recorded (its page index, its work folder), never from a
path in a request."""

from __future__ import annotations

from pathlib import Path

from pipeline.access._auth import Principal
from pipeline.access.desk._context import DeskContext
from pipeline.dossier import PageImage, load_page_index, page_file
from pipeline.errors import NotFoundError
from pipeline.imaging import thumbnail_path


class BatchImages:
    """Thumbnails and contact sheets of the batches a person may see."""

    def __init__(self, context: DeskContext):
        self.ctx = context

    def pages(self, who: Principal, case_no: str, batch_id: str) -> list[PageImage]:
        """The batch's pages as its run recorded them (empty when it recorded none)."""
        run = self.ctx.batch_run(who, case_no, batch_id)
        index = load_page_index(run.folder)
        return index.pages if index else []

    def thumbnail(self, who: Principal, case_no: str, batch_id: str, position: int) -> Path:
        """The thumbnail file of one page of the batch."""
        page = next((p for p in self.pages(who, case_no, batch_id) if p.position == position), None)
        path = page_file(self.ctx.page_cache, page.key, thumbnail_path(Path(page.image)).name) \
            if page is not None and page.image else None
        if path is None:
            raise NotFoundError(f"case {case_no} batch {batch_id}: no thumbnail of page {position + 1}")
        return path

    def contact_sheet(self, who: Principal, case_no: str, batch_id: str, volume: int) -> Path:
        """The contact sheet of one volume of the batch's dossier."""
        run = self.ctx.batch_run(who, case_no, batch_id)
        path = run.folder / "contact" / f"volume-{volume:03d}.png"
        if not path.is_file():
            raise NotFoundError(f"case {case_no} batch {batch_id}: no contact sheet of volume {volume}")
        return path

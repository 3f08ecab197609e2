"""A searchable case file for the search tests: synthetic pages (samples/synthetic.py) rendered at 100 dpi, each
character's drawn cell given to the text layer as PP-OCR would (a word per line, a position per character), built
into real volumes (cover, 卷内目录, numbered pages, 备考表) with ``build_volume`` — so what the index reads back is a
volume's text layer, and what the tests expect is the text the page image shows.

``make_case(folder, case_no, agency, seed, pages)`` returns a :class:`SearchableCase`: the manifest, the catalogue,
the volume files, and every page's drawn lines; ``case.publish(store)`` puts it in the object store like a run."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from structure_helpers import page_artifact, save_jpeg

from pipeline.assembly import VolumeContext, add_text_layer, build_volume
from pipeline.common import sha256_and_size
from pipeline.models import Catalogue, DossierManifest, VolumeEntry, volume_key
from pipeline.ocr import OcrChar, OcrLine, OcrResult, OcrWord
from pipeline.storage import case_key, normalise_case_no
from pipeline.structure import Document, build_catalogue, plan_volumes
from samples.synthetic import CaseFacts, clean_page

DPI = 100
KINDS = ("indictment", "judgment", "record")
TITLES = {"indictment": "起诉书", "judgment": "刑事判决书", "record": "询问笔录"}


def ocr_from_glyphs(glyphs, width: int, height: int) -> OcrResult:
    """The OCR of a page whose every glyph cell is known: one line per row of glyphs, each character placed."""
    rows: list[list] = []
    for g in glyphs:
        if rows and abs(rows[-1][0][2] - g[2]) < 1 and g[1] >= rows[-1][-1][1]:
            rows[-1].append(g)
        else:
            rows.append([g])
    lines = []
    for row in rows:
        chars = tuple(OcrChar(c, int(x0), int(x1), 95.0) for c, x0, _, x1, _ in row)
        x0, y0, x1, y1 = int(row[0][1]), int(min(g[2] for g in row)), int(row[-1][3]), int(max(g[4] for g in row))
        word = OcrWord("".join(g[0] for g in row), x0, y0, x1, y1, 95.0, chars)
        lines.append(OcrLine((word,), x0, y0, x1, y1))
    return OcrResult(width, height, DPI, tuple(lines))


@dataclass
class SearchableCase:
    """A built case file and what its pages show."""

    manifest: DossierManifest
    catalogue: Catalogue
    folder: Path
    volumes: list[tuple[int, Path]]
    lines: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (volume, page) → lines drawn
    facts: CaseFacts | None = None

    def publish(self, store, db=None) -> str | None:
        """Publish to the object store (volumes, catalogue, manifest last) — with ``db``, the case's owner recorded
        in that access database first, as a run does; the manifest's version id."""
        from pipeline.storage import publish_dossier
        from tests.access_fixtures import publish_as_pipeline

        if db is not None:
            return publish_as_pipeline(db, store, self.manifest, self.folder, []).manifest_version_id
        return publish_dossier(store, self.manifest, self.folder, []).manifest_version_id


def make_case(folder: Path, case_no: str, agency: str, seed: int = 1, pages: int = 6,
              max_pages: int = 200) -> SearchableCase:
    """A case file of ``pages`` pages in documents of two pages (起诉书, 刑事判决书, 询问笔录 in turn)."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = CaseFacts.make(random.Random(seed), number=seed)
    artifacts, drawn, docs = {}, {}, []
    for k in range(pages):
        kind = KINDS[(k // 2) % 3]
        image, truth = clean_page(kind, facts, random.Random(seed * 1000 + k), dpi=DPI, page_in_doc=k % 2)
        path = save_jpeg(image, folder / f"page-{k:03d}.jpg", DPI)
        ocr = ocr_from_glyphs(truth.glyphs, image.width, image.height)
        artifacts[k] = page_artifact(k, path, dpi=DPI, ocr=ocr, folder=folder)
        drawn[k] = truth.lines
        if k % 2 == 0:
            docs.append(Document(len(docs), TITLES[kind], tuple(range(k, min(k + 2, pages))), date="2024-03-05",
                                 author="河南省封丘县人民法院", doc_no=facts.court_no))
    plans = plan_volumes(docs, max_pages)
    catalogue = build_catalogue(case_no, plans, docs)
    volumes, entries, lines = [], [], {}
    for plan, cat in zip(plans, catalogue.volumes):
        context = VolumeContext(case_no=case_no, case_title=f"{facts.defendant}{facts.crime}案", agency=agency,
                                number=plan.number, of=plan.of, retention="永久", security_level="internal",
                                standard="DA/T 31-2017@1.0.0", pipeline_version="0.1.0", entries=tuple(cat.entries))
        path = folder / volume_key(plan.number)
        build_volume(plan, {p: artifacts[p] for p in plan.positions}, context, path, text_layer=add_text_layer)
        volumes.append((plan.number, path))
        for number, position in enumerate(plan.positions, start=1):
            lines[(plan.number, number)] = drawn[position]
        digest, size = sha256_and_size(path)
        entries.append(VolumeEntry(number=plan.number, of=plan.of, key=volume_key(plan.number), sha256=digest,
                                   bytes=size, pages=len(plan.positions), pdf_pages=len(plan.positions) + 3,
                                   documents=len(cat.entries), pdfa="1b"))
    canonical = normalise_case_no(case_no)
    manifest = DossierManifest(case_no=canonical, case_key=case_key(canonical), case_title=f"{facts.defendant}盗窃案",
                               agency=agency, standard="DA/T 31-2017@1.0.0", pipeline_version="0.1.0",
                               created=datetime.now(UTC), batches=["b1"], volumes=entries, documents=[], pages=[])
    (folder / "catalogue.json").write_text(catalogue.model_dump_json(), encoding="utf-8")
    return SearchableCase(manifest, catalogue, folder, volumes, lines, facts)


def renumbered(case: SearchableCase, case_no: str, agency: str | None = None) -> SearchableCase:
    """The same built case file under another case number (and owner): for tests that each publish their own."""
    canonical = normalise_case_no(case_no)
    manifest = case.manifest.model_copy(update={"case_no": canonical, "case_key": case_key(canonical),
                                                "agency": agency or case.manifest.agency})
    catalogue = case.catalogue.model_copy(update={"case_no": canonical})
    return SearchableCase(manifest, catalogue, case.folder, case.volumes, case.lines, case.facts)

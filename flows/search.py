"""Keeping the search index in step with the store: after a publication (from the run's local dossier folder), after
a dossier is withdrawn (voided), and rebuilt from every published dossier (``dossier search reindex``).

The index is derived data: when it cannot be updated (its writer lock held too long, PostgreSQL down) the error says
the dossier itself is published and how to catch the index up — a rerun of the batch (its publication is then
unchanged) or ``dossier search reindex``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import DossierError, StoreError
from pipeline.models import Catalogue, DossierManifest
from pipeline.search import SearchIndex, open_index
from pipeline.settings import Settings, StateLayout
from pipeline.storage import (
    CATALOGUE_NAME,
    DossierNotFound,
    ObjectStore,
    case_key,
    dossier_prefix,
    load_manifest,
    published_cases,
)

log = logging.getLogger(__name__)


def open_search(settings: Settings, layout: StateLayout, rebuild: bool = False) -> SearchIndex:
    """The index the settings name (Tantivy in the state folder unless told otherwise); ``rebuild``: one of an
    earlier schema version is emptied rather than refused."""
    return open_index(settings.search.backend, settings.search.folder(layout), settings.access.database_url(layout),
                      rebuild)


def _catalogue(path: Path) -> Catalogue | None:
    return Catalogue.model_validate_json(path.read_bytes()) if path.is_file() else None


def index_published(settings: Settings, layout: StateLayout, folder: Path, manifest: DossierManifest,
                    version: str | None) -> int:
    """Index a dossier just published from its local folder (volumes, catalogue.json): its entries replace what the
    index held of the case. Returns the number of entries."""
    volumes = [(v.number, folder / v.key) for v in manifest.volumes]
    try:
        index = open_search(settings, layout)
        try:
            return index.index_dossier(manifest, _catalogue(folder / CATALOGUE_NAME), volumes, version or "")
        finally:
            index.close()
    except StoreError as exc:
        raise StoreError(f"case {manifest.case_no} is published, but the search index could not be updated: {exc}; "
                         f"run the batch again or `dossier search reindex --case {manifest.case_no}`") from exc


def drop_from_index(settings: Settings, layout: StateLayout, case_key: str) -> None:
    """Forget a withdrawn dossier's entries."""
    index = open_search(settings, layout)
    try:
        index.drop_case(case_key)
    finally:
        index.close()


def _index_from_store(index: SearchIndex, store: ObjectStore, case_no: str, work: Path) -> tuple[str, int]:
    ref = load_manifest(store, case_no)
    m, prefix = ref.manifest, dossier_prefix(ref.manifest.case_no)
    volumes = []
    for v in m.volumes:
        path = work / f"{v.number:03d}.pdf"
        store.download(prefix + v.key, path, m.object_versions.get(v.key))
        volumes.append((v.number, path))
    catalogue = None
    if m.catalogue_sha256:
        raw = store.get_bytes(prefix + CATALOGUE_NAME, m.object_versions.get(CATALOGUE_NAME))
        try:
            catalogue = Catalogue.model_validate_json(raw)
        except ValueError as exc:  # the pages are still worth finding; the rows are left out, and said so
            log.warning("case %s: its catalogue.json is not a 卷内目录 this version reads (%s): indexed without "
                        "its rows", m.case_no, " ".join(str(exc).split())[:300])
    try:
        return m.case_key, index.index_dossier(m, catalogue, volumes, ref.version_id or "")
    finally:
        for _, path in volumes:
            path.unlink(missing_ok=True)


def reindex(settings: Settings, layout: StateLayout, store: ObjectStore, case_no: str | None = None,
            progress: Callable[[str, int], None] | None = None) -> tuple[int, int, int, list[str]]:
    """Rebuild the index from the store: every published dossier (or one case) read again, one at a time, and
    cases the index holds that are no longer published dropped. A dossier that cannot be read is left as the index
    had it and named in the failures (the others go on). An index of an earlier schema version is emptied first.
    Returns (cases, entries, dropped, failures)."""
    index = open_search(settings, layout, rebuild=True)
    cases = entries = dropped = 0
    failures: list[str] = []
    try:
        wanted = [case_no] if case_no else list(published_cases(store))
        seen = set()
        with tempfile.TemporaryDirectory(prefix="dossier-reindex-") as tmp:
            for number in wanted:
                try:
                    key, n = _index_from_store(index, store, number, Path(tmp))
                except DossierNotFound:
                    continue
                except StoreError:
                    raise  # the store or the index did not answer: a fault of the machine, not of the dossier
                except (DossierError, ValueError) as exc:
                    failures.append(f"{number}: {exc}")
                    seen.add(case_key(number))
                    continue
                seen.add(key)
                cases, entries = cases + 1, entries + n
                if progress:
                    progress(number, n)
        if case_no is None:
            for key in sorted(index.backend.case_keys() - seen):
                index.drop_case(key)
                dropped += 1
        elif not seen:
            index.drop_case(case_key(case_no))
            dropped = 1
    finally:
        index.close()
    return cases, entries, dropped, failures

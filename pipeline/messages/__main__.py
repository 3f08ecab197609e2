"""The catalogue's chores, with Babel (a development dependency): ``python -m pipeline.messages update|check``.

``update`` extracts every message said in ``pipeline`` and ``flows`` (``say(...)``, ``N_(...)``) into ``dossier.pot``,
merges it into each language's ``.po`` and compiles the ``.mo`` files (checked in, so that a fresh clone speaks
Chinese without a build step). ``check`` fails when a ``.mo`` is not what its ``.po`` compiles to, or when a message
said in the code is missing from the catalogue or has no Chinese translation.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from pipeline.messages import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent.parent
SOURCES = ("pipeline", "flows")
KEYWORDS = {"say": None, "N_": None}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def extract():
    """Every message said in the sources, as a Babel catalogue."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="scan-to-dossier", domain=DOMAIN, charset="utf-8")
    for folder in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("Translators:",)):
            catalog.add(message, None, [(f"{folder}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    """A language's .po file."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, language: str):
    """A .po file as a Babel catalogue (an empty one when missing)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, charset="utf-8")
    with path.open("rb") as fh:
        return read_po(fh, locale=language, domain=DOMAIN)


def compiled(catalog) -> bytes:
    """The .mo bytes of a catalogue (deterministic)."""
    from datetime import UTC, datetime

    from babel.messages.mofile import write_mo

    catalog.creation_date = catalog.revision_date = datetime(2026, 1, 1, tzinfo=UTC)  # the same bytes every time
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    """Extract, merge into every language, compile."""
    from babel.messages.pofile import write_po

    template = extract()
    with TEMPLATE.open("wb") as fh:
        write_po(fh, template, omit_header=True, sort_output=True, width=120)
    for language in LANGUAGES:
        catalog = read(po_path(language), language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()

        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        with po_path(language).open("wb") as fh:
            write_po(fh, catalog, omit_header=True, sort_output=True, width=120, include_previous=False)
        po_path(language).with_suffix(".mo").write_bytes(compiled(read(po_path(language), language)))
        print(po_path(language))


def problems() -> list[str]:
    """What is out of step: messages missing from a catalogue, untranslated Chinese, stale .mo files."""
    found = []
    said = {m.id for m in extract() if m.id}
    for language in LANGUAGES:
        catalog = read(po_path(language), language)
        missing = sorted(said - {m.id for m in catalog if m.id})
        found += [f"{language}: not in the catalogue: {m!r}" for m in missing]
        if language != "en":
            found += [f"{language}: not translated: {m.id!r}" for m in catalog if m.id and not m.string]
        mo = po_path(language).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            found.append(f"{language}: {mo.name} is not what {po_path(language).name} compiles to")
    return found


if __name__ == "__main__":
    if sys.argv[1:] == ["update"]:
        update()
    elif sys.argv[1:] == ["check"]:
        issues = problems()
        print("\n".join(issues) or "catalogues agree with the code")
        sys.exit(1 if issues else 0)
    else:
        sys.exit("usage: python -m pipeline.messages update|check")

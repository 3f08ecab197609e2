"""Names compared across records: an agency as the manifest, a token and the search index all spell it."""

from __future__ import annotations

import unicodedata


def folded_name(name: str) -> str:
    """A name as compared: NFKC (full-width letters, digits and brackets as ASCII), inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).split())

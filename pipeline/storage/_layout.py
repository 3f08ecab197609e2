"""Where a dossier lives in the bucket, and the errors of reading one::

    cases/<case-key>/volumes/NNN.pdf            signed PDF/A volumes
    cases/<case-key>/originals/<batch-id>/…     the raw scans as received
    cases/<case-key>/catalogue.json             卷内目录 data for every volume
    cases/<case-key>/report.json                the four-property check report
    cases/<case-key>/dossier.json               the manifest, written last
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.errors import ExitCode, StoreError
from pipeline.storage._casekey import case_key

CASES_PREFIX = "cases/"
SYSTEM_PREFIX = "system/"
MANIFEST_NAME = "dossier.json"
CATALOGUE_NAME = "catalogue.json"
REPORT_NAME = "report.json"
VOLUME_KEY_RE = re.compile(r"volumes/\d{3,6}\.pdf")


class DossierNotFound(StoreError):
    """No published dossier (no dossier.json) for this case number."""

    exit_code = ExitCode.NOT_FOUND
    unavailable = None  # the store answered: nothing of the machine is down


class SecurityRefused(StoreError):
    """The bucket is not configured for the dossier's security level: nothing was written."""

    exit_code = ExitCode.REFUSED
    unavailable = None  # the store answered: nothing of the machine is down


class IntegrityError(StoreError):
    """Bytes do not match the SHA-256 the manifest or the object's metadata names."""

    exit_code = ExitCode.VERIFICATION_FAILED
    unavailable = None  # the store answered: nothing of the machine is down


def dossier_prefix(case_no: str) -> str:
    """``cases/<case-key>/`` for a case number (validated)."""
    return f"{CASES_PREFIX}{case_key(case_no)}/"


def check_segment(part: str, what: str) -> str:
    """A path segment that is safe in an object key and as a local file name."""
    if not part or part in (".", "..") or "/" in part or "\\" in part:
        raise StoreError(f"{what} {part!r} is not a plain name")
    for ch in part:
        if unicodedata.category(ch)[0] == "C":
            raise StoreError(f"{what} {part!r} contains a control, invisible or undecodable character "
                             f"U+{ord(ch):04X}")
    if len(part.encode("utf-8")) > 255:
        raise StoreError(f"{what} {part[:40]!r}… is longer than 255 bytes")
    return part

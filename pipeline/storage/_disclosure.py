"""A case's disclosure copies in the store, one folder per profile, beside the original::

    cases/<case-key>/disclosure/<profile>/volumes/NNN.pdf    the copy's signed PDF/A volumes
    cases/<case-key>/disclosure/<profile>/catalogue.json     its 卷内目录 (names in their 某 form)
    cases/<case-key>/disclosure/<profile>/disclosure.json    its manifest, written last

Published like a dossier: every volume written and read back first, the manifest last, so a copy is whole or
absent; a remade copy writes new object versions and a manifest naming the one it supersedes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.common import sha256_and_size
from pipeline.errors import StoreError
from pipeline.models import DisclosureManifest, RetentionPolicy
from pipeline.storage._casekey import case_key
from pipeline.storage._fetch import FetchDir, check_download, run_verify
from pipeline.storage._layout import (
    CATALOGUE_NAME,
    VOLUME_KEY_RE,
    DossierNotFound,
    IntegrityError,
    SecurityRefused,
    check_segment,
    dossier_prefix,
)
from pipeline.storage._publish import PublishItem, put_verified, write_manifest
from pipeline.storage._s3 import ObjectMissing, ObjectStore

DISCLOSURE_MANIFEST = "disclosure.json"


def disclosure_prefix(case_no: str, profile: str) -> str:
    """``cases/<case-key>/disclosure/<profile>/``."""
    return f"{dossier_prefix(case_no)}disclosure/{check_segment(profile, 'disclosure profile')}/"


@dataclass(frozen=True)
class DisclosureRef:
    """A copy's manifest as stored: the model, its bytes and its version id."""

    manifest: DisclosureManifest
    data: bytes
    version_id: str | None


def _items(manifest: DisclosureManifest, folder: Path) -> list[PublishItem]:
    items = []
    for vol in manifest.volumes:
        if not VOLUME_KEY_RE.fullmatch(vol.key):
            raise StoreError(f"disclosure copy of {manifest.case_no}: key {vol.key!r} is not volumes/NNN.pdf")
        path = folder / vol.key
        if not path.is_file():
            raise StoreError(f"disclosure copy of {manifest.case_no}: {path} is missing")
        digest, size = sha256_and_size(path)
        if digest != vol.sha256 or size != vol.bytes:
            raise IntegrityError(f"disclosure copy of {manifest.case_no}: {path} has SHA-256 {digest}, its manifest "
                                 f"says {vol.sha256}")
        items.append(PublishItem(vol.key, path, digest, size, "application/pdf"))
    if manifest.catalogue_sha256:
        path = folder / CATALOGUE_NAME
        digest, size = sha256_and_size(path) if path.is_file() else ("", 0)
        if digest != manifest.catalogue_sha256:
            raise IntegrityError(f"disclosure copy of {manifest.case_no}: {path} does not have the SHA-256 its "
                                 f"manifest names")
        items.append(PublishItem(CATALOGUE_NAME, path, digest, size, "application/json"))
    return items


def publish_disclosure(store: ObjectStore, manifest: DisclosureManifest, folder: Path,
                       retention: RetentionPolicy | None = None,
                       before_manifest: Callable[[DisclosureManifest, str], None] | None = None) -> DisclosureRef:
    """Publish a copy made in ``folder``: its volumes, then disclosure.json (``before_manifest`` is called with the
    final manifest and its SHA-256 right before it is written)."""
    if case_key(manifest.case_no) != manifest.case_key:
        raise StoreError(f"disclosure manifest of {manifest.case_no} has case_key {manifest.case_key!r}")
    if not store.config.allows(manifest.security_level):
        raise SecurityRefused(f"disclosure copy of {manifest.case_no} is {manifest.security_level!r}; bucket "
                              f"{store.bucket} may hold at most {store.config.max_security_level!r}: refused")
    retention = retention if retention and retention.mode != "none" else None
    items = _items(manifest, folder)
    store.require_versioning()
    prefix = disclosure_prefix(manifest.case_no, manifest.profile)
    versions = {}
    for item in items:
        stored = put_verified(store, prefix + item.rel, item, retention)
        if stored.version_id:
            versions[item.rel] = stored.version_id
    previous = store.stat(prefix + DISCLOSURE_MANIFEST)
    final = DisclosureManifest.model_validate(manifest.model_copy(update={
        "object_versions": versions, "supersedes": previous.version_id if previous else None}).model_dump())
    data = final.model_dump_json(indent=2).encode("utf-8") + b"\n"
    if before_manifest is not None:
        before_manifest(final, hashlib.sha256(data).hexdigest())
    version = write_manifest(store, prefix, data, retention, DISCLOSURE_MANIFEST)
    return DisclosureRef(final, data, version)


def load_disclosure(store: ObjectStore, case_no: str, profile: str, version_id: str | None = None) \
        -> DisclosureRef:
    """The latest (or given) disclosure.json of a case under a profile."""
    key = disclosure_prefix(case_no, profile) + DISCLOSURE_MANIFEST
    try:
        info = store.stat(key, version_id)
        if info is None:
            raise ObjectMissing(key)
        data = store.get_bytes(key, info.version_id)
    except ObjectMissing:
        raise DossierNotFound(f"no {profile} disclosure copy of case {case_no} is published") from None
    if info.sha256 and hashlib.sha256(data).hexdigest() != info.sha256:
        raise IntegrityError(f"{key} version {info.version_id}: bytes do not match their SHA-256")
    try:
        return DisclosureRef(DisclosureManifest.model_validate_json(data), data, info.version_id)
    except ValueError as exc:
        raise StoreError(f"{key} version {info.version_id} is not a valid disclosure manifest: {exc}") from exc


def _targets(manifest: DisclosureManifest) -> list[tuple[str, str]]:
    targets = [(v.key, v.sha256) for v in manifest.volumes]
    return targets + ([(CATALOGUE_NAME, manifest.catalogue_sha256)] if manifest.catalogue_sha256 else [])


def fetch_disclosure(store: ObjectStore, case_no: str, profile: str, out_dir: Path,
                     verify_pdf: Callable[[Path], None] | None = None) -> Path:
    """Download a copy into ``out_dir/<case-key>/`` (disclosure.json and volumes/), every SHA-256 checked."""
    ref = load_disclosure(store, case_no, profile)
    prefix = disclosure_prefix(case_no, profile)
    target = FetchDir(out_dir, case_key(case_no))
    try:
        target.path(DISCLOSURE_MANIFEST).write_bytes(ref.data)
        for rel, sha in _targets(ref.manifest):
            dest = target.path(rel)
            got, _ = store.download(prefix + rel, dest, ref.manifest.object_versions.get(rel))
            check_download(rel, sha, got, f"the {profile} copy of case {case_no}")
            if verify_pdf is not None and rel.endswith(".pdf"):
                run_verify(verify_pdf, dest, rel)
        return target.commit()
    except BaseException:
        target.abort()
        raise

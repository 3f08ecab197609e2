"""Publishing a dossier: every object written and verified, the manifest last, so a dossier is whole or absent."""

from __future__ import annotations

import hashlib
import io
import mimetypes
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.common import sha256_and_size
from pipeline.errors import StoreError
from pipeline.models import DossierManifest, OriginalEntry, RetentionPolicy
from pipeline.storage._casekey import case_key, normalise_case_no
from pipeline.storage._layout import (
    CASES_PREFIX,
    CATALOGUE_NAME,
    MANIFEST_NAME,
    REPORT_NAME,
    VOLUME_KEY_RE,
    IntegrityError,
    SecurityRefused,
    check_segment,
)
from pipeline.storage._s3 import ObjectStore


@dataclass(frozen=True)
class StoredObject:
    """One object written (or found already stored) by a publish."""

    key: str  # relative to the dossier prefix
    version_id: str | None
    sha256: str
    bytes: int
    skipped: bool  # already stored with the right bytes


@dataclass(frozen=True)
class PublishResult:
    """What a publish left in the store."""

    manifest_version_id: str | None
    manifest: DossierManifest
    objects: list[StoredObject]
    unchanged: bool = False  # the identical manifest was already the latest: nothing new was written


@dataclass
class PublishItem:
    rel: str
    path: Path
    sha256: str
    size: int
    content_type: str


def _local_items(manifest: DossierManifest, local_dir: Path) -> tuple[list[PublishItem], dict]:
    """Volumes, catalogue and report as found on disk, checked against the manifest; plus manifest updates."""
    items: list[PublishItem] = []
    updates: dict = {}
    listed = set()
    for vol in manifest.volumes:
        if not VOLUME_KEY_RE.fullmatch(vol.key):
            raise StoreError(f"volume {vol.number} of {manifest.case_no}: key {vol.key!r} is not volumes/NNN.pdf")
        path = local_dir / vol.key
        if not path.is_file():
            raise StoreError(f"volume {vol.number} of {manifest.case_no}: {path} is missing")
        digest, size = sha256_and_size(path)
        if digest != vol.sha256.lower() or size != vol.bytes:
            raise IntegrityError(f"volume {vol.number} of {manifest.case_no}: {path} has SHA-256 {digest} and "
                                 f"{size} bytes, the manifest says {vol.sha256} and {vol.bytes} bytes")
        listed.add(vol.key)
        items.append(PublishItem(vol.key, path, digest, size, "application/pdf"))
    if len(listed) != len(manifest.volumes):
        raise StoreError(f"manifest of {manifest.case_no} names a volume key twice")
    strays = sorted(p.relative_to(local_dir).as_posix() for p in (local_dir / "volumes").glob("*.pdf")) \
        if (local_dir / "volumes").is_dir() else []
    strays = [s for s in strays if s not in listed]
    if strays:
        raise StoreError(f"{local_dir} holds volume(s) the manifest of {manifest.case_no} does not name: "
                         f"{', '.join(strays)}")
    for name, attr in ((CATALOGUE_NAME, "catalogue_sha256"), (REPORT_NAME, "report_sha256")):
        path = local_dir / name
        expected = getattr(manifest, attr)
        if not path.is_file():
            if expected:
                raise StoreError(f"{path} is missing but the manifest of {manifest.case_no} names its SHA-256")
            continue
        digest, size = sha256_and_size(path)
        if expected and digest != expected.lower():
            raise IntegrityError(f"{path} has SHA-256 {digest}, the manifest of {manifest.case_no} says {expected}")
        updates[attr] = digest
        items.append(PublishItem(name, path, digest, size, "application/json"))
    return items, updates


def _original_items(manifest: DossierManifest, originals: Iterable[tuple[str, Path, Path]]) \
        -> tuple[list[PublishItem], list[OriginalEntry], list[OriginalEntry]]:
    """The raw batch files given, fixity-checked against the manifest's entries; plus entries not given this time."""
    declared = {(o.batch, o.file): o for o in manifest.originals}
    items: list[PublishItem] = []
    entries: list[OriginalEntry] = []
    seen = set()
    for batch_id, batch_dir, file in originals:
        check_segment(batch_id, "batch id")
        if manifest.batches and batch_id not in manifest.batches:
            raise StoreError(f"original {file} belongs to batch {batch_id!r}, which the manifest of "
                             f"{manifest.case_no} does not list ({', '.join(manifest.batches)})")
        batch_dir = Path(batch_dir)
        path = Path(file) if Path(file).is_absolute() else batch_dir / file
        try:
            rel = path.resolve().relative_to(batch_dir.resolve())
        except ValueError:
            raise StoreError(f"original {path} is not inside its batch folder {batch_dir}") from None
        for part in rel.parts:
            check_segment(part, f"file name in batch {batch_id}")
        rel_name = rel.as_posix()
        if (batch_id, rel_name) in seen:
            raise StoreError(f"original {batch_id}/{rel_name} is given twice")
        seen.add((batch_id, rel_name))
        if not path.is_file():
            raise StoreError(f"original {path} of batch {batch_id} is missing")
        digest, size = sha256_and_size(path)
        key = f"originals/{batch_id}/{rel_name}"
        known = declared.get((batch_id, rel_name))
        if known is not None and (known.sha256.lower() != digest or known.bytes != size):
            raise IntegrityError(f"fixity check failed for original {path}: SHA-256 {digest} ({size} bytes) but "
                                 f"{known.sha256} ({known.bytes} bytes) when the batch was received")
        ctype = mimetypes.guess_type(rel_name)[0] or "application/octet-stream"
        items.append(PublishItem(key, path, digest, size, ctype))
        entries.append(OriginalEntry(batch=batch_id, file=rel_name, key=key, sha256=digest, bytes=size))
    unsupplied = [entry for k, entry in declared.items() if k not in seen]
    return items, entries, unsupplied


def _canonical(manifest: DossierManifest) -> dict:
    return manifest.model_dump(mode="json", exclude={"supersedes", "created"})


def _content(manifest: DossierManifest) -> dict:
    """What a dossier is, without what a second run of the same batch changes: its time, the time its checks ran
    (report.json's bytes), the object versions of its own writes."""
    return manifest.model_dump(mode="json", exclude={"supersedes", "created", "object_versions", "report_sha256"})


PUT_WORKERS = 4  # originals written at once while publishing (a 200-page batch has 200)


BeforeManifest = Callable[[DossierManifest, str], None]
"""Called with the final manifest and the SHA-256 of its bytes right before ``dossier.json`` is written (the flow
audits the publication there: when it raises, nothing is published)."""


def publish_dossier(store: ObjectStore, manifest: DossierManifest, local_dir: Path,
                    originals: Iterable[tuple[str, Path, Path]] = (),
                    profile_retention: RetentionPolicy | None = None,
                    on_object_written: Callable[[str], None] | None = None,
                    before_manifest: BeforeManifest | None = None) -> PublishResult:
    """Publish a dossier: every object written and read back first, ``dossier.json`` last; reruns complete it."""
    key, retention = _publishable(store, manifest, profile_retention)
    # everything is checked locally before the first write
    items, updates = _local_items(manifest, Path(local_dir))
    original_items, original_entries, unsupplied = _original_items(manifest, originals)
    store.require_versioning()
    if retention is not None:
        store.require_object_lock()
    prefix = f"{CASES_PREFIX}{key}/"
    # a run that died after writing dossier.json, run again, finds its dossier published: nothing new is written
    published = _published(store, prefix)
    if published is not None and _content(published[1]) == _content(manifest.model_copy(update={
            **updates, "originals": original_entries + unsupplied})):
        return PublishResult(published[0], published[1], [], unchanged=True)
    written, versions = _write_objects(store, prefix, items, original_items, retention, on_object_written)
    versions.update(_stored_originals(store, prefix, unsupplied, manifest.case_no))
    previous = store.stat(prefix + MANIFEST_NAME)
    final = manifest.model_copy(update={**updates, "originals": original_entries + unsupplied,
                                        "object_versions": versions,
                                        "supersedes": previous.version_id if previous else None})
    final = DossierManifest.model_validate(final.model_dump())  # re-validate the updated copy
    if previous is not None:
        try:
            current = DossierManifest.model_validate_json(store.get_bytes(prefix + MANIFEST_NAME, previous.version_id))
        except (ValueError, StoreError):
            current = None
        if current is not None and _canonical(current) == _canonical(final):
            return PublishResult(previous.version_id, current, written, unchanged=True)
    data = final.model_dump_json(indent=2).encode("utf-8") + b"\n"
    if before_manifest is not None:
        before_manifest(final, hashlib.sha256(data).hexdigest())
    version = write_manifest(store, prefix, data, retention)
    if on_object_written is not None:
        on_object_written(MANIFEST_NAME)
    return PublishResult(version, final, written)


def _published(store: ObjectStore, prefix: str) -> tuple[str | None, DossierManifest] | None:
    """The latest published manifest of a dossier (version id, manifest), or None."""
    info = store.stat(prefix + MANIFEST_NAME)
    if info is None:
        return None
    try:
        return info.version_id, DossierManifest.model_validate_json(store.get_bytes(prefix + MANIFEST_NAME,
                                                                                       info.version_id))
    except ValueError:  # unreadable: published again over it
        return None


def _publishable(store: ObjectStore, manifest: DossierManifest,
                 profile_retention: RetentionPolicy | None) -> tuple[str, RetentionPolicy | None]:
    """The dossier's case key and the retention to write with, once the bucket may hold this dossier at all."""
    key = case_key(normalise_case_no(manifest.case_no))
    if manifest.case_key != key:
        raise StoreError(f"manifest of {manifest.case_no} has case_key {manifest.case_key!r}, expected {key!r}")
    if not store.config.allows(manifest.security_level):
        raise SecurityRefused(f"dossier {manifest.case_no} is {manifest.security_level!r}; bucket {store.bucket} at "
                              f"{store.config.endpoint} may hold at most {store.config.max_security_level!r}: "
                              f"refused")
    retention = profile_retention if profile_retention and profile_retention.mode != "none" else None
    if retention is not None and retention.days < 1:
        raise StoreError(f"retention {retention.mode} needs at least one day, the profile says {retention.days}")
    return key, retention


def _write_objects(store: ObjectStore, prefix: str, items: list[PublishItem], original_items: list[PublishItem],
                   retention: RetentionPolicy | None, on_object_written: Callable[[str], None] | None
                   ) -> tuple[list[StoredObject], dict[str, str]]:
    """Volumes, catalogue and report one by one, in order, then the originals; each written and read back."""
    written: list[StoredObject] = []
    versions: dict[str, str] = {}

    def record(item: PublishItem, obj: StoredObject) -> None:
        obj = StoredObject(item.rel, obj.version_id, obj.sha256, obj.bytes, obj.skipped)
        written.append(obj)
        if obj.version_id:
            versions[item.rel] = obj.version_id
        if on_object_written is not None:
            on_object_written(item.rel)

    for item in items:
        record(item, put_verified(store, prefix + item.rel, item, retention))
    # the originals, many small files, go up PUT_WORKERS at a time (each written and read back)
    with ThreadPoolExecutor(max_workers=PUT_WORKERS) as pool:
        pending = [(item, pool.submit(put_verified, store, prefix + item.rel, item, retention))
                   for item in original_items]
        try:
            for item, future in pending:
                record(item, future.result())
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
    return written, versions


def _stored_originals(store: ObjectStore, prefix: str, unsupplied: list[OriginalEntry],
                      case_no: str) -> dict[str, str]:
    """Originals the manifest names that were not given this time: they must already be in the store, intact."""
    versions = {}
    for entry in unsupplied:
        info = store.stat(prefix + entry.key)
        if info is None:
            raise StoreError(f"original {entry.key} is named by the manifest of {case_no} but was neither "
                             f"supplied nor found in the store")
        digest, size = store.hash_object(prefix + entry.key, info.version_id)
        if digest != entry.sha256.lower():
            raise IntegrityError(f"stored original {prefix}{entry.key} has SHA-256 {digest}, the manifest says "
                                 f"{entry.sha256}")
        if info.version_id:
            versions[entry.key] = info.version_id
    return versions


def write_manifest(store: ObjectStore, prefix: str, data: bytes, retention: RetentionPolicy | None,
                    name: str = MANIFEST_NAME) -> str | None:
    """Write a manifest (dossier.json, or a copy's disclosure.json), the last object, and prove the stored bytes;
    returns its version id."""
    digest = hashlib.sha256(data).hexdigest()
    version = store.put_stream(prefix + name, io.BytesIO(data), len(data), digest, "application/json", retention)
    stored_digest, _ = store.hash_object(prefix + name, version)
    if stored_digest != digest:
        raise IntegrityError(f"{prefix}{name} version {version}: stored bytes differ from what was written")
    return version


def put_verified(store: ObjectStore, key: str, item: PublishItem, retention: RetentionPolicy | None) -> StoredObject:
    """Write one object unless the latest version already holds these bytes; either way prove the stored bytes."""
    existing = store.stat(key)
    if existing is not None and existing.sha256 == item.sha256 and existing.size == item.size:
        digest, size = store.hash_object(key, existing.version_id)
        if digest == item.sha256 and size == item.size:
            if retention is not None and not store.has_retention(key, existing.version_id):
                store.set_retention(key, existing.version_id, retention)
            return StoredObject(key, existing.version_id, digest, size, skipped=True)
    version = store.put_file(key, item.path, item.sha256, item.content_type, retention)
    digest, size = store.hash_object(key, version)
    if digest != item.sha256 or size != item.size:
        raise IntegrityError(f"{store.bucket}/{key} version {version}: the store holds SHA-256 {digest} ({size} bytes) "
                             f"after writing {item.path} ({item.sha256}, {item.size} bytes)")
    return StoredObject(key, version, digest, size, skipped=False)

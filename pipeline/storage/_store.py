"""Dossiers in the object store: publishing (manifest last, every object verified) and fetching by case number.

The S3 side (configuration by ``DOSSIER_S3_*`` environment variables, the client with timeouts and retries) is in
:mod:`pipeline.s3`; its names are re-exported here.

Layout of a dossier in the bucket (``<case-key>`` from :func:`pipeline.casekey.case_key`)::

    cases/<case-key>/volumes/NNN.pdf            signed PDF/A volumes
    cases/<case-key>/originals/<batch-id>/<f>   the raw batch files as received
    cases/<case-key>/catalogue.json             卷内目录 of every volume
    cases/<case-key>/report.json                four-property report
    cases/<case-key>/dossier.json               the manifest, written last: without it the dossier does not exist

Every object carries its SHA-256 in ``x-amz-meta-sha256``; after each upload the stored version is read back and
hashed, so a published manifest only names bytes proven to be in the store. The manifest pins the version id of each
object (``object_versions``), so an older manifest keeps reading its own volumes after a republish.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import re
import shutil
import ssl
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from pipeline.common import sha256_and_size
from pipeline.errors import DossierError, ExitCode, StoreError
from pipeline.models import DossierManifest, OriginalEntry, RetentionPolicy
from pipeline.storage._casekey import case_key, normalise_case_no
from pipeline.storage._s3 import CHUNK, ObjectInfo, ObjectMissing, ObjectStore, StoreConfig

__all__ = ["CASES_PREFIX", "MANIFEST_NAME", "CATALOGUE_NAME", "REPORT_NAME", "DossierNotFound", "IntegrityError",
           "ManifestRef", "ObjectInfo", "ObjectMissing", "ObjectStore", "PublishResult", "StoreConfig", "StoredObject",
           "dossier_prefix", "fetch_dossier", "fetch_targets", "fetch_via_server", "load_manifest",
           "manifest_versions", "publish_dossier", "read_manifest"]

CASES_PREFIX = "cases/"
SYSTEM_PREFIX = "system/"
MANIFEST_NAME = "dossier.json"
CATALOGUE_NAME = "catalogue.json"
REPORT_NAME = "report.json"
_VOLUME_KEY = re.compile(r"volumes/\d{3,6}\.pdf")


class DossierNotFound(StoreError):
    """No published dossier (no dossier.json) for this case number."""

    exit_code = ExitCode.NOT_FOUND


class IntegrityError(StoreError):
    """Bytes do not match the SHA-256 the manifest or the object's metadata names."""

    exit_code = ExitCode.VERIFICATION_FAILED


# --------------------------------------------------------------------------------------------------------------------
# Publishing


def dossier_prefix(case_no: str) -> str:
    """``cases/<case-key>/`` for a case number (validated)."""
    return f"{CASES_PREFIX}{case_key(case_no)}/"


def _check_segment(part: str, what: str) -> str:
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
class _Item:
    rel: str
    path: Path
    sha256: str
    size: int
    content_type: str


def _local_items(manifest: DossierManifest, local_dir: Path) -> tuple[list[_Item], dict]:
    """Volumes, catalogue and report as found on disk, checked against the manifest; plus manifest updates."""
    items: list[_Item] = []
    updates: dict = {}
    listed = set()
    for vol in manifest.volumes:
        if not _VOLUME_KEY.fullmatch(vol.key):
            raise StoreError(f"volume {vol.number} of {manifest.case_no}: key {vol.key!r} is not volumes/NNN.pdf")
        path = local_dir / vol.key
        if not path.is_file():
            raise StoreError(f"volume {vol.number} of {manifest.case_no}: {path} is missing")
        digest, size = sha256_and_size(path)
        if digest != vol.sha256.lower() or size != vol.bytes:
            raise IntegrityError(f"volume {vol.number} of {manifest.case_no}: {path} has SHA-256 {digest} and "
                                 f"{size} bytes, the manifest says {vol.sha256} and {vol.bytes} bytes")
        listed.add(vol.key)
        items.append(_Item(vol.key, path, digest, size, "application/pdf"))
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
        items.append(_Item(name, path, digest, size, "application/json"))
    return items, updates


def _original_items(manifest: DossierManifest, originals: Iterable[tuple[str, Path, Path]]) \
        -> tuple[list[_Item], list[OriginalEntry], list[OriginalEntry]]:
    """The raw batch files given, fixity-checked against the manifest's entries; plus entries not given this time."""
    declared = {(o.batch, o.file): o for o in manifest.originals}
    items: list[_Item] = []
    entries: list[OriginalEntry] = []
    seen = set()
    for batch_id, batch_dir, file in originals:
        _check_segment(batch_id, "batch id")
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
            _check_segment(part, f"file name in batch {batch_id}")
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
        items.append(_Item(key, path, digest, size, ctype))
        entries.append(OriginalEntry(batch=batch_id, file=rel_name, key=key, sha256=digest, bytes=size))
    unsupplied = [entry for k, entry in declared.items() if k not in seen]
    return items, entries, unsupplied


def _canonical(manifest: DossierManifest) -> dict:
    return manifest.model_dump(mode="json", exclude={"supersedes", "created"})


PUT_WORKERS = 4  # originals written at once while publishing (a 200-page batch has 200)


def publish_dossier(store: ObjectStore, manifest: DossierManifest, local_dir: Path,
                    originals: Iterable[tuple[str, Path, Path]] = (),
                    profile_retention: RetentionPolicy | None = None,
                    on_object_written: Callable[[str], None] | None = None) -> PublishResult:
    """Publish a dossier: every object written and read back first, ``dossier.json`` last; reruns complete it."""
    local_dir = Path(local_dir)
    canonical_no = normalise_case_no(manifest.case_no)
    key = case_key(canonical_no)
    if manifest.case_key != key:
        raise StoreError(f"manifest of {manifest.case_no} has case_key {manifest.case_key!r}, expected {key!r}")
    if not store.config.allows(manifest.security_level):
        raise StoreError(f"dossier {manifest.case_no} is {manifest.security_level!r}; bucket {store.bucket} at "
                         f"{store.config.endpoint} may hold at most {store.config.max_security_level!r}: refused")
    retention = profile_retention if profile_retention and profile_retention.mode != "none" else None
    if retention is not None and retention.days < 1:
        raise StoreError(f"retention {retention.mode} needs at least one day, the profile says {retention.days}")

    # everything is checked locally before the first write
    items, updates = _local_items(manifest, local_dir)
    original_items, original_entries, unsupplied = _original_items(manifest, originals)
    store.require_versioning()
    if retention is not None:
        store.require_object_lock()

    prefix = f"{CASES_PREFIX}{key}/"
    written: list[StoredObject] = []
    versions: dict[str, str] = {}

    def record(item: _Item, obj: StoredObject) -> None:
        obj = StoredObject(item.rel, obj.version_id, obj.sha256, obj.bytes, obj.skipped)
        written.append(obj)
        if obj.version_id:
            versions[item.rel] = obj.version_id
        if on_object_written is not None:
            on_object_written(item.rel)

    for item in items:  # volumes, catalogue, report: one by one, in order
        record(item, _put_verified(store, prefix + item.rel, item, retention))
    # the originals, many small files, go up PUT_WORKERS at a time (each written and read back)
    with ThreadPoolExecutor(max_workers=PUT_WORKERS) as pool:
        pending = [(item, pool.submit(_put_verified, store, prefix + item.rel, item, retention))
                   for item in original_items]
        try:
            for item, future in pending:
                record(item, future.result())
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
    for entry in unsupplied:  # named by the manifest, not given this time: must already be in the store
        info = store.stat(prefix + entry.key)
        if info is None:
            raise StoreError(f"original {entry.key} is named by the manifest of {manifest.case_no} but was neither "
                             f"supplied nor found in the store")
        digest, size = store.hash_object(prefix + entry.key, info.version_id)
        if digest != entry.sha256.lower():
            raise IntegrityError(f"stored original {prefix}{entry.key} has SHA-256 {digest}, the manifest says "
                                 f"{entry.sha256}")
        if info.version_id:
            versions[entry.key] = info.version_id

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
    digest = hashlib.sha256(data).hexdigest()
    version = store.put_stream(prefix + MANIFEST_NAME, io.BytesIO(data), len(data), digest, "application/json",
                               retention)
    stored_digest, _ = store.hash_object(prefix + MANIFEST_NAME, version)
    if stored_digest != digest:
        raise IntegrityError(f"{prefix}{MANIFEST_NAME} version {version}: stored bytes differ from what was written")
    if on_object_written is not None:
        on_object_written(MANIFEST_NAME)
    return PublishResult(version, final, written)


def _put_verified(store: ObjectStore, key: str, item: _Item, retention: RetentionPolicy | None) -> StoredObject:
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


# --------------------------------------------------------------------------------------------------------------------
# Reading and fetching


@dataclass(frozen=True)
class ManifestRef:
    """A manifest as stored: the parsed model, the exact bytes and the version id."""

    manifest: DossierManifest
    data: bytes
    version_id: str | None


def load_manifest(store: ObjectStore, case_no: str, version_id: str | None = None) -> ManifestRef:
    """The latest (or given) ``dossier.json`` of a case, checked against its stored SHA-256."""
    key = dossier_prefix(case_no) + MANIFEST_NAME
    try:
        info = store.stat(key, version_id)
        if info is None:
            raise ObjectMissing(key)
        data = store.get_bytes(key, info.version_id)
    except ObjectMissing:
        which = f" version {version_id}" if version_id else ""
        raise DossierNotFound(f"no published dossier{which} for case {case_no}") from None
    if info.sha256 and hashlib.sha256(data).hexdigest() != info.sha256:
        raise IntegrityError(f"{store.bucket}/{key} version {info.version_id}: bytes do not match their SHA-256")
    try:
        manifest = DossierManifest.model_validate_json(data)
    except ValueError as exc:
        raise StoreError(f"{store.bucket}/{key} version {info.version_id} is not a valid dossier manifest: {exc}") \
            from exc
    return ManifestRef(manifest, data, info.version_id)


def read_manifest(store: ObjectStore, case_no: str, version_id: str | None = None) -> DossierManifest:
    """The latest manifest of a case, or an older one by its version id."""
    return load_manifest(store, case_no, version_id).manifest


def manifest_versions(store: ObjectStore, case_no: str) -> list[tuple[str, datetime | None, bool]]:
    """Every stored version of a case's manifest, newest first: (version id, last modified, is latest)."""
    key = dossier_prefix(case_no) + MANIFEST_NAME
    found = [(info.version_id or "", info.last_modified, latest)
             for info, latest, marker in store.list_versions(key) if info.key == key and not marker]
    return sorted(found, key=lambda v: v[1] or datetime.min.replace(tzinfo=timezone.utc), reverse=True)


def fetch_targets(manifest: DossierManifest) -> list[tuple[str, str | None, str]]:
    """What a fetch downloads besides dossier.json: (key relative to the dossier, version id, SHA-256)."""
    targets = [(v.key, manifest.object_versions.get(v.key), v.sha256) for v in manifest.volumes]
    if manifest.catalogue_sha256:
        targets.append((CATALOGUE_NAME, manifest.object_versions.get(CATALOGUE_NAME), manifest.catalogue_sha256))
    if manifest.report_sha256:
        targets.append((REPORT_NAME, manifest.object_versions.get(REPORT_NAME), manifest.report_sha256))
    for rel, _, _ in targets:
        if rel not in (CATALOGUE_NAME, REPORT_NAME) and not _VOLUME_KEY.fullmatch(rel):
            raise StoreError(f"manifest of {manifest.case_no} names an unexpected object {rel!r}")
    return targets


class _FetchDir:
    """Builds ``out_dir/<case-key>/`` in a hidden sibling folder and swaps it in only when complete."""

    def __init__(self, out_dir: Path, ck: str):
        self.out_dir = Path(out_dir)
        self.final = self.out_dir / ck
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{ck}.partial-", dir=self.out_dir))

    def path(self, rel: str) -> Path:
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def commit(self) -> Path:
        old = None
        if self.final.exists():
            old = self.final.with_name(self.final.name + f".old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _check_download(rel: str, expected: str, got: str, where: str) -> None:
    if got != expected.lower():
        raise IntegrityError(f"{rel} of {where}: downloaded bytes have SHA-256 {got}, the manifest says {expected}")


def _run_verify(verify_pdf: Callable[[Path], None], path: Path, rel: str) -> None:
    try:
        verify_pdf(path)
    except DossierError:
        raise
    except Exception as exc:  # a validator's own failure is a failed verification, named by file
        raise StoreError(f"verification of {rel} failed: {type(exc).__name__}: {exc}") from exc


def fetch_dossier(store: ObjectStore, case_no: str, out_dir: Path,
                  verify_pdf: Callable[[Path], None] | None = None, version_id: str | None = None) -> Path:
    """Download a dossier into ``out_dir/<case-key>/``, check every SHA-256 and each volume; returns that folder."""
    ref = load_manifest(store, case_no, version_id)
    manifest = ref.manifest
    ck = case_key(case_no)
    prefix = dossier_prefix(case_no)
    target = _FetchDir(out_dir, ck)
    try:
        target.path(MANIFEST_NAME).write_bytes(ref.data)
        for rel, version, sha in fetch_targets(manifest):
            dest = target.path(rel)
            got, _ = store.download(prefix + rel, dest, version)
            _check_download(rel, sha, got, f"case {case_no} (fetched to {ck}/{rel})")
            if verify_pdf is not None and rel.endswith(".pdf"):
                _run_verify(verify_pdf, dest, f"{ck}/{rel}")
        return target.commit()
    except BaseException:
        target.abort()
        raise


def fetch_via_server(url: str, token: str, case_no: str, out_dir: Path,
                     verify_pdf: Callable[[Path], None] | None = None, timeout: float = 60.0,
                     version_id: str | None = None, tls_verify: bool | str = True) -> Path:
    """Fetch a dossier through the HTTP service (``dossier serve``) with the same checks as :func:`fetch_dossier`;
    ``tls_verify`` may name a CA bundle file for an https service."""
    import httpx

    ck = case_key(case_no)
    base = url.rstrip("/") + "/dossiers/" + quote(normalise_case_no(case_no), safe="")
    params = {"version": version_id} if version_id else None
    headers = {"Authorization": f"Bearer {token}"}
    target = _FetchDir(out_dir, ck)
    try:
        verify = ssl.create_default_context(cafile=tls_verify) if isinstance(tls_verify, str) else tls_verify
        with httpx.Client(timeout=timeout, headers=headers, verify=verify) as client:
            def get(path: str, dest: Path | None = None) -> tuple[bytes, str]:
                with client.stream("GET", base + path, params=params) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        try:
                            detail = resp.json().get("detail", resp.text)
                        except ValueError:
                            detail = resp.text
                        raise StoreError(f"{url} refused GET /dossiers/…{path} for case {case_no}: "
                                         f"HTTP {resp.status_code} {detail}")
                    h = hashlib.sha256()
                    if dest is None:
                        body = resp.read()
                        h.update(body)
                        return body, h.hexdigest()
                    with open(dest, "wb") as f:
                        for part in resp.iter_bytes(CHUNK):
                            h.update(part)
                            f.write(part)
                    return b"", h.hexdigest()

            raw, _ = get("/manifest.json")
            manifest = DossierManifest.model_validate_json(raw)
            if normalise_case_no(manifest.case_no) != normalise_case_no(case_no):
                raise StoreError(f"{url} answered case {case_no} with the manifest of {manifest.case_no}")
            target.path(MANIFEST_NAME).write_bytes(raw)
            for rel, _, sha in fetch_targets(manifest):
                dest = target.path(rel)
                path = f"/volumes/{int(rel[8:-4])}" if rel.startswith("volumes/") else "/" + rel
                _, got = get(path, dest)
                _check_download(rel, sha, got, f"case {case_no} via {url} (fetched to {ck}/{rel})")
                if verify_pdf is not None and rel.endswith(".pdf"):
                    _run_verify(verify_pdf, dest, f"{ck}/{rel}")
        return target.commit()
    except httpx.HTTPError as exc:
        target.abort()
        raise StoreError(f"fetching case {case_no} from {url} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        target.abort()
        raise

"""Object storage: configuration, an S3 client with timeouts and retries, publishing and fetching dossiers.

The same code talks to the embedded SeaweedFS (:mod:`pipeline.storeserver`), a SeaweedFS cluster or MinIO. It is
configured by environment variables; when ``DOSSIER_S3_ENDPOINT`` is unset the embedded store in the state folder is
used with the credentials generated on its first start. Anonymous access is never used.

===============================  ====================================================================================
``DOSSIER_S3_ENDPOINT``          ``host:port`` or ``http(s)://host:port`` of the S3 API; unset = embedded store
``DOSSIER_S3_ACCESS_KEY``        access key (required with an endpoint)
``DOSSIER_S3_SECRET_KEY``        secret key (required with an endpoint)
``DOSSIER_S3_BUCKET``            bucket name, default ``dossiers``; it must have versioning (and object lock for
                                 retention)
``DOSSIER_S3_TLS``               ``1``/``0``: use HTTPS; default from the endpoint's scheme, else off
``DOSSIER_S3_CA_BUNDLE``         PEM file of CA certificates to trust for TLS (default: certifi's bundle)
``DOSSIER_S3_REGION``            region name, default ``us-east-1``
``DOSSIER_S3_MAX_SECURITY``      highest security level the bucket may hold: public, internal, secret, confidential,
                                 top-secret; default ``internal``. A dossier above it is refused before any write.
``DOSSIER_S3_TIMEOUT``           read timeout of one S3 request in seconds, default 30 (connect timeout 5)
``DOSSIER_S3_RETRIES``           retries of a failed request (connection errors, 5xx), default 3, with backoff
``DOSSIER_AUDIT_LOCK_DAYS``      when > 0, audit log segments are written with COMPLIANCE retention of this many days
===============================  ====================================================================================

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
import json
import mimetypes
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import MinioException, S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig
from urllib3.util import Retry, Timeout

from pipeline.casekey import case_key, normalise_case_no
from pipeline.errors import DossierError, StoreError
from pipeline.models import SECURITY_ORDER, DossierManifest, OriginalEntry, RetentionPolicy

CASES_PREFIX = "cases/"
SYSTEM_PREFIX = "system/"
MANIFEST_NAME = "dossier.json"
CATALOGUE_NAME = "catalogue.json"
REPORT_NAME = "report.json"
SHA_META = "x-amz-meta-sha256"
CHUNK = 1 << 20
_VOLUME_KEY = re.compile(r"volumes/\d{3,6}\.pdf")


class ObjectMissing(StoreError):
    """The object (or that version of it) is not in the store, or its latest version is a delete marker."""


class DossierNotFound(StoreError):
    """No published dossier (no dossier.json) for this case number."""


class IntegrityError(StoreError):
    """Bytes do not match the SHA-256 the manifest or the object's metadata names."""


# --------------------------------------------------------------------------------------------------------------------
# Configuration


def _env_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise StoreError(f"{name}={value!r} is not a boolean (use 1 or 0)")


@dataclass(frozen=True)
class StoreConfig:
    """Where the object store is and how to talk to it."""

    endpoint: str  # host:port
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str = "dossiers"
    secure: bool = False
    ca_bundle: Path | None = None
    region: str = "us-east-1"
    max_security_level: str = "internal"
    timeout: float = 30.0
    connect_timeout: float = 5.0
    retries: int = 3
    audit_lock_days: int = 0
    embedded_state: Path | None = None  # set when this is the embedded store of that state folder

    def __post_init__(self) -> None:
        if not self.access_key or not self.secret_key:
            raise StoreError(f"no credentials for the object store at {self.endpoint}: anonymous access is not used")
        if self.max_security_level not in SECURITY_ORDER:
            raise StoreError(f"unknown security level {self.max_security_level!r}; one of {', '.join(SECURITY_ORDER)}")
        if len(self.bucket) < 3:
            raise StoreError(f"bucket name {self.bucket!r} is too short (at least 3 characters)")

    @property
    def url(self) -> str:
        """The endpoint as a URL."""
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    def allows(self, security_level: str) -> bool:
        """True when a dossier of this security level may be stored in the configured bucket."""
        if security_level not in SECURITY_ORDER:
            return False
        return SECURITY_ORDER.index(security_level) <= SECURITY_ORDER.index(self.max_security_level)

    @classmethod
    def embedded(cls, state_dir: Path, **overrides) -> StoreConfig:
        """Configuration of the embedded store in ``state_dir`` (its endpoint, bucket and generated credentials)."""
        from pipeline.storeserver import EmbeddedStore

        server = EmbeddedStore(state_dir)
        if not server.server_file.exists():
            raise StoreError(f"no object store configured: set DOSSIER_S3_ENDPOINT (and keys), or run "
                             f"'dossier store start --state {state_dir}' to start the embedded store")
        creds = server.credentials()
        values = dict(endpoint=server.endpoint, access_key=creds.access_key, secret_key=creds.secret_key,
                      bucket=server.bucket, embedded_state=Path(state_dir))
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_env(cls, state_dir: Path, environ: Mapping[str, str] | None = None) -> StoreConfig:
        """Configuration from the DOSSIER_S3_* variables (see the module docstring), else the embedded store."""
        env = os.environ if environ is None else environ
        common: dict = {}
        try:
            if env.get("DOSSIER_S3_MAX_SECURITY"):
                common["max_security_level"] = env["DOSSIER_S3_MAX_SECURITY"].strip()
            if env.get("DOSSIER_S3_TIMEOUT"):
                common["timeout"] = float(env["DOSSIER_S3_TIMEOUT"])
            if env.get("DOSSIER_S3_RETRIES"):
                common["retries"] = int(env["DOSSIER_S3_RETRIES"])
            if env.get("DOSSIER_AUDIT_LOCK_DAYS"):
                common["audit_lock_days"] = int(env["DOSSIER_AUDIT_LOCK_DAYS"])
        except ValueError as exc:
            raise StoreError(f"bad number in DOSSIER_S3_TIMEOUT / DOSSIER_S3_RETRIES / DOSSIER_AUDIT_LOCK_DAYS: {exc}") \
                from exc
        endpoint = env.get("DOSSIER_S3_ENDPOINT", "").strip()
        if not endpoint:
            if env.get("DOSSIER_S3_BUCKET"):
                common["bucket"] = env["DOSSIER_S3_BUCKET"].strip()
            return cls.embedded(Path(state_dir), **common)
        secure = None
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise StoreError(f"DOSSIER_S3_ENDPOINT={endpoint!r}: expected host:port or http(s)://host:port")
            secure, endpoint = parts.scheme == "https", parts.netloc
        if env.get("DOSSIER_S3_TLS", "").strip():
            tls = _env_bool(env["DOSSIER_S3_TLS"], "DOSSIER_S3_TLS")
            if secure is not None and tls != secure:
                raise StoreError("DOSSIER_S3_TLS contradicts the scheme of DOSSIER_S3_ENDPOINT")
            secure = tls
        ca = env.get("DOSSIER_S3_CA_BUNDLE", "").strip()
        if ca and not Path(ca).is_file():
            raise StoreError(f"DOSSIER_S3_CA_BUNDLE={ca!r} is not a file")
        return cls(endpoint=endpoint, access_key=env.get("DOSSIER_S3_ACCESS_KEY", ""),
                   secret_key=env.get("DOSSIER_S3_SECRET_KEY", ""),
                   bucket=env.get("DOSSIER_S3_BUCKET", "").strip() or "dossiers", secure=bool(secure),
                   ca_bundle=Path(ca) if ca else None, region=env.get("DOSSIER_S3_REGION", "").strip() or "us-east-1",
                   **common)


# --------------------------------------------------------------------------------------------------------------------
# The S3 client


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object version."""

    key: str
    version_id: str | None
    size: int
    sha256: str | None  # from x-amz-meta-sha256
    etag: str = ""
    last_modified: datetime | None = None


def _sha256_file(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


class ObjectStore:
    """The configured bucket, through a minio client whose every request has a timeout and bounded retries."""

    def __init__(self, config: StoreConfig, pool_size: int = 32):
        self.config = config
        self.bucket = config.bucket
        retry = Retry(total=config.retries, connect=config.retries, read=config.retries, status=config.retries,
                      backoff_factor=0.5, backoff_max=4.0, status_forcelist=(500, 502, 503, 504))
        http = urllib3.PoolManager(
            timeout=Timeout(connect=config.connect_timeout, read=config.timeout), maxsize=pool_size, retries=retry,
            cert_reqs="CERT_REQUIRED", ca_certs=str(config.ca_bundle) if config.ca_bundle else certifi.where())
        self.client = Minio(config.endpoint, access_key=config.access_key, secret_key=config.secret_key,
                            secure=config.secure, region=config.region, http_client=http)
        self._checked_versioning = False

    # ---------------------------------------------------------------------------------------------- errors
    def _fail(self, what: str, key: str, exc: Exception) -> StoreError:
        where = f"{self.bucket}/{key}" if key else self.bucket
        if isinstance(exc, S3Error):
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject"):
                return ObjectMissing(f"{what}: {where} not found in the store at {self.config.endpoint}")
            return StoreError(f"{what} {where}: refused by the store at {self.config.endpoint}: "
                              f"{exc.code} {exc.message}")
        if isinstance(exc, urllib3.exceptions.MaxRetryError):
            return StoreError(f"{what} {where}: store at {self.config.endpoint} unreachable after "
                              f"{self.config.retries} retries: {exc.reason}")
        return StoreError(f"{what} {where}: {type(exc).__name__}: {exc} (store at {self.config.endpoint})")

    _ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError)

    # -------------------------------------------------------------------------------------------------- bucket
    def ensure_bucket(self, object_lock: bool = True) -> None:
        """Create the bucket if missing (versioned, with object lock enabled at creation when asked)."""
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=object_lock)
            if self.client.get_bucket_versioning(self.bucket).status != ENABLED:
                self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
        except self._ERRORS as exc:
            raise self._fail("prepare bucket", "", exc) from exc

    def require_versioning(self) -> None:
        """Refuse to publish into a bucket without versioning: republishing would destroy what readers rely on."""
        if self._checked_versioning:
            return
        try:
            status = self.client.get_bucket_versioning(self.bucket).status
        except self._ERRORS as exc:
            raise self._fail("read versioning of", "", exc) from exc
        if status != ENABLED:
            raise StoreError(f"bucket {self.bucket} at {self.config.endpoint} has no versioning enabled "
                             f"(status {status!r}); dossiers are only published to versioned buckets")
        self._checked_versioning = True

    def require_object_lock(self) -> None:
        """Refuse retention on a bucket created without object lock."""
        try:
            self.client.get_object_lock_config(self.bucket)
        except self._ERRORS as exc:
            raise StoreError(f"retention was asked for but bucket {self.bucket} at {self.config.endpoint} has no "
                             f"object lock (it must be enabled when the bucket is created): {exc}") from exc

    def ping(self) -> bool:
        """True when the bucket answers an authenticated request."""
        try:
            return self.client.bucket_exists(self.bucket)
        except self._ERRORS:
            return False

    # --------------------------------------------------------------------------------------------------- write
    @staticmethod
    def _retention(policy: RetentionPolicy | None) -> Retention | None:
        if policy is None or policy.mode == "none":
            return None
        until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=policy.days)
        return Retention(policy.mode, until)

    def put_stream(self, key: str, data: BinaryIO, length: int, sha256: str | None = None,
                   content_type: str = "application/octet-stream", retention: RetentionPolicy | None = None) -> str | None:
        """Store one object; returns its version id."""
        meta = {"sha256": sha256} if sha256 else None
        try:
            result = self.client.put_object(self.bucket, key, data, length, content_type=content_type,
                                            metadata=meta, retention=self._retention(retention),
                                            part_size=16 * 1024 * 1024, num_parallel_uploads=1)
        except self._ERRORS as exc:
            raise self._fail("write", key, exc) from exc
        return result.version_id

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream",
                  retention: RetentionPolicy | None = None) -> str | None:
        """Store a small object (its SHA-256 goes into its metadata); returns the version id."""
        return self.put_stream(key, io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), content_type,
                               retention)

    def put_file(self, key: str, path: Path, sha256: str, content_type: str = "application/octet-stream",
                 retention: RetentionPolicy | None = None) -> str | None:
        """Store a file; returns the version id."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                return self.put_stream(key, f, size, sha256, content_type, retention)
        except OSError as exc:
            raise StoreError(f"cannot read {path} to store it as {key}: {exc}") from exc

    def set_retention(self, key: str, version_id: str | None, policy: RetentionPolicy) -> None:
        """Put object-lock retention on a stored version."""
        retention = self._retention(policy)
        if retention is None:
            return
        try:
            self.client.set_object_retention(self.bucket, key, retention, version_id=version_id)
        except self._ERRORS as exc:
            raise self._fail("set retention on", key, exc) from exc

    def has_retention(self, key: str, version_id: str | None) -> bool:
        """True when that version carries object-lock retention."""
        try:
            return bool(self.client.get_object_retention(self.bucket, key, version_id=version_id).mode)
        except S3Error as exc:
            if exc.code in ("NoSuchObjectLockConfiguration", "InvalidRequest", "ObjectLockConfigurationNotFoundError"):
                return False
            raise self._fail("read retention of", key, exc) from exc
        except self._ERRORS as exc:
            raise self._fail("read retention of", key, exc) from exc

    # ---------------------------------------------------------------------------------------------------- read
    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """The object's (latest or given) version, or None when absent or deleted."""
        try:
            st = self.client.stat_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject", "MethodNotAllowed"):
                return None  # MethodNotAllowed: the requested version is a delete marker
            raise self._fail("stat", key, exc) from exc
        except self._ERRORS as exc:
            raise self._fail("stat", key, exc) from exc
        if st.is_delete_marker:
            return None
        return ObjectInfo(key=key, version_id=st.version_id, size=st.size or 0,
                          sha256=st.metadata.get(SHA_META) if st.metadata else None,
                          etag=st.etag or "", last_modified=st.last_modified)

    def open(self, key: str, version_id: str | None = None) -> urllib3.BaseHTTPResponse:
        """A streaming response for the object; the caller reads it in chunks and calls close() + release_conn()."""
        try:
            return self.client.get_object(self.bucket, key, version_id=version_id)
        except self._ERRORS as exc:
            raise self._fail("read", key, exc) from exc

    def iter_chunks(self, key: str, version_id: str | None = None, chunk: int = 256 * 1024) -> Iterator[bytes]:
        """The object's bytes in chunks, never all in memory."""
        resp = self.open(key, version_id)
        try:
            yield from resp.stream(chunk)
        except self._ERRORS as exc:
            raise self._fail("read", key, exc) from exc
        finally:
            resp.close()
            resp.release_conn()

    def get_bytes(self, key: str, version_id: str | None = None, limit: int = 64 * 1024 * 1024) -> bytes:
        """A small object's bytes (refuses more than ``limit``)."""
        buf = bytearray()
        for part in self.iter_chunks(key, version_id):
            buf += part
            if len(buf) > limit:
                raise StoreError(f"{self.bucket}/{key} is larger than {limit} bytes; not read into memory")
        return bytes(buf)

    def hash_object(self, key: str, version_id: str | None = None) -> tuple[str, int]:
        """SHA-256 and size of the stored bytes, read back from the store."""
        h, n = hashlib.sha256(), 0
        for part in self.iter_chunks(key, version_id):
            h.update(part)
            n += len(part)
        return h.hexdigest(), n

    def download(self, key: str, dest: Path, version_id: str | None = None) -> tuple[str, int]:
        """Stream an object into a file; returns its SHA-256 and size."""
        h, n = hashlib.sha256(), 0
        try:
            with open(dest, "wb") as f:
                for part in self.iter_chunks(key, version_id):
                    h.update(part)
                    n += len(part)
                    f.write(part)
        except OSError as exc:
            raise StoreError(f"cannot write {dest} while fetching {key}: {exc}") from exc
        return h.hexdigest(), n

    def list_keys(self, prefix: str) -> Iterator[ObjectInfo]:
        """Latest versions of the objects under a prefix (recursive, in key order)."""
        try:
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                yield ObjectInfo(key=o.object_name, version_id=o.version_id, size=o.size or 0, sha256=None,
                                 etag=o.etag or "", last_modified=o.last_modified)
        except self._ERRORS as exc:
            raise self._fail("list", prefix, exc) from exc

    def list_versions(self, prefix: str) -> Iterator[tuple[ObjectInfo, bool, bool]]:
        """Every version under a prefix: (info, is_latest, is_delete_marker)."""
        try:
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True):
                latest = str(o.is_latest).lower() == "true"
                yield (ObjectInfo(key=o.object_name, version_id=o.version_id, size=o.size or 0, sha256=None,
                                  etag=o.etag or "", last_modified=o.last_modified), latest, bool(o.is_delete_marker))
        except self._ERRORS as exc:
            raise self._fail("list versions of", prefix, exc) from exc

    def presigned_url(self, key: str, version_id: str | None, seconds: int) -> str:
        """A short-lived GET URL for one object version."""
        try:
            return self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=seconds),
                                                    version_id=version_id)
        except self._ERRORS as exc:
            raise self._fail("presign", key, exc) from exc

    def delete(self, key: str) -> None:
        """Delete the latest version of an object (a delete marker in a versioned bucket)."""
        try:
            self.client.remove_object(self.bucket, key)
        except self._ERRORS as exc:
            raise self._fail("delete", key, exc) from exc


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
        digest, size = _sha256_file(path)
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
        digest, size = _sha256_file(path)
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
        digest, size = _sha256_file(path)
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
    for item in items + original_items:
        obj = _put_verified(store, prefix + item.rel, item, retention)
        obj = StoredObject(item.rel, obj.version_id, obj.sha256, obj.bytes, obj.skipped)
        written.append(obj)
        if obj.version_id:
            versions[item.rel] = obj.version_id
        if on_object_written is not None:
            on_object_written(item.rel)
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
                     version_id: str | None = None) -> Path:
    """Fetch a dossier through the HTTP service (``dossier serve``) with the same checks as :func:`fetch_dossier`."""
    import httpx

    ck = case_key(case_no)
    base = url.rstrip("/") + "/dossiers/" + quote(normalise_case_no(case_no), safe="")
    params = {"version": version_id} if version_id else None
    headers = {"Authorization": f"Bearer {token}"}
    target = _FetchDir(out_dir, ck)
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
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

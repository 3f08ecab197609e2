"""S3 access: configuration from the settings and a minio client with timeouts and bounded retries.

The same code talks to the embedded SeaweedFS (``storage/_embedded.py``), a SeaweedFS cluster or MinIO. It is
configured by the DOSSIER_S3_* variables (read by :mod:`pipeline.settings`); when ``DOSSIER_S3_ENDPOINT`` is unset the
embedded store in the state folder is used with the credentials generated on its first start. Anonymous access is
never used.

===============================  ====================================================================================
``DOSSIER_S3_ENDPOINT``          ``host:port`` or ``http(s)://host:port`` of the S3 API; unset = embedded store
``DOSSIER_S3_ACCESS_KEY``        access key (required with an endpoint)
``DOSSIER_S3_SECRET_KEY``        secret key (required with an endpoint)
``DOSSIER_S3_BUCKET``            bucket name, default ``dossiers``; it must have versioning (and object lock for
                                 retention)
``DOSSIER_S3_TLS``               ``1``/``0``: use HTTPS; default from the endpoint's scheme; a bare ``host:port`` is
                                 HTTPS unless the host is loopback (127.0.0.0/8, ::1, localhost)
``DOSSIER_S3_CA_BUNDLE``         PEM file of CA certificates to trust for TLS (default: certifi's bundle)
``DOSSIER_S3_REGION``            region name, default ``us-east-1``
``DOSSIER_S3_MAX_SECURITY``      highest security level the bucket may hold: public, internal, secret, confidential,
                                 top-secret; default ``internal``. A dossier above it is refused before any write.
``DOSSIER_S3_TIMEOUT``           read timeout of one S3 request in seconds, default 30 (connect timeout 5)
``DOSSIER_S3_RETRIES``           retries of a failed request (connection errors, 5xx), default 3, with backoff
``DOSSIER_AUDIT_LOCK_DAYS``      COMPLIANCE retention (days) of audit segments and checkpoints; default 3650 where the
                                 bucket has object lock; 0 = none
===============================  ====================================================================================
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import MinioException, S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig
from urllib3.util import Retry, Timeout

from pipeline.common import sha256_stream, utcnow
from pipeline.errors import StoreError
from pipeline.models import SECURITY_ORDER, RetentionPolicy
from pipeline.settings import StoreSettings
from pipeline.storage._embedded_files import EmbeddedFiles

SHA_META = "x-amz-meta-sha256"
"""Object metadata header carrying the object's SHA-256 (hex)."""

CHUNK = 1 << 20


class ObjectMissing(StoreError):
    """The object (or that version of it) is not in the store, or its latest version is a delete marker."""
    unavailable = None  # the store answered


# --------------------------------------------------------------------------------------------------------------------
# Configuration


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
    audit_lock_days: int | None = None  # None: 10 years where the bucket has object lock (pipeline.access._audit)
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
        server = EmbeddedFiles(state_dir)
        if not server.server_file.exists():
            raise StoreError(f"no object store configured: set DOSSIER_S3_ENDPOINT (and keys), or run "
                             f"'dossier store start --state {state_dir}' to start the embedded store")
        creds = server.credentials()
        values = dict(endpoint=server.endpoint, access_key=creds.access_key, secret_key=creds.secret_key,
                      bucket=server.bucket, embedded_state=Path(state_dir))
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_settings(cls, settings: StoreSettings, state_dir: Path) -> StoreConfig:
        """Configuration from the DOSSIER_S3_* settings (see the module docstring), else the embedded store."""
        common: dict = {}
        if settings.max_security:
            common["max_security_level"] = settings.max_security
        if settings.timeout is not None:
            common["timeout"] = settings.timeout
        if settings.retries is not None:
            common["retries"] = settings.retries
        if settings.audit_lock_days is not None:
            common["audit_lock_days"] = settings.audit_lock_days
        endpoint = settings.endpoint
        if not endpoint:
            if settings.bucket:
                common["bucket"] = settings.bucket
            return cls.embedded(Path(state_dir), **common)
        secure = None
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise StoreError(f"DOSSIER_S3_ENDPOINT={endpoint!r}: expected host:port or http(s)://host:port")
            secure, endpoint = parts.scheme == "https", parts.netloc
        if settings.tls is not None:
            if secure is not None and settings.tls != secure:
                raise StoreError("DOSSIER_S3_TLS contradicts the scheme of DOSSIER_S3_ENDPOINT")
            secure = settings.tls
        if secure is None:  # host:port: HTTPS, unless the store is on this machine (loopback never leaves it)
            secure = not _loopback(endpoint)
        ca = settings.ca_bundle
        if ca and not Path(ca).is_file():
            raise StoreError(f"DOSSIER_S3_CA_BUNDLE={ca!r} is not a file")
        return cls(endpoint=endpoint, access_key=settings.access_key,
                   secret_key=settings.secret_key.get_secret_value(), bucket=settings.bucket or "dossiers",
                   secure=bool(secure), ca_bundle=Path(ca) if ca else None, region=settings.region or "us-east-1",
                   **common)


def _loopback(endpoint: str) -> bool:
    """True when ``host:port`` names this machine's loopback interface (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(f"//{endpoint}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        until = utcnow().replace(microsecond=0) + timedelta(days=policy.days)
        return Retention(policy.mode, until)

    def put_stream(self, key: str, data: BinaryIO, length: int, sha256: str | None = None,
                   content_type: str = "application/octet-stream",
                   retention: RetentionPolicy | None = None) -> str | None:
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
        return sha256_stream(self.iter_chunks(key, version_id))

    def download(self, key: str, dest: Path, version_id: str | None = None) -> tuple[str, int]:
        """Stream an object into a file; returns its SHA-256 and size."""
        try:
            with open(dest, "wb") as f:
                return sha256_stream(self.iter_chunks(key, version_id), sink=f)
        except OSError as exc:
            raise StoreError(f"cannot write {dest} while fetching {key}: {exc}") from exc

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

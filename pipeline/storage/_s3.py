"""The S3 client: a minio client whose every request has a timeout and bounded retries, and the bucket's
operations the pipeline uses (versioning, object lock, put with SHA-256 metadata and retention, get, stat, listings,
presigned URLs). Where the store is and how to reach it: :mod:`pipeline.storage._config`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

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
from pipeline.models import RetentionPolicy
from pipeline.storage._config import StoreConfig

SHA_META = "x-amz-meta-sha256"
"""Object metadata header carrying the object's SHA-256 (hex)."""

CHUNK = 1 << 20


class ObjectMissing(StoreError):
    """The object (or that version of it) is not in the store, or its latest version is a delete marker."""
    unavailable = None  # the store answered


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

    def list_folders(self, prefix: str) -> Iterator[str]:
        """The names of the "folders" right under a prefix (common prefixes, not recursive), e.g. the case keys
        under ``cases/``."""
        try:
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=False):
                if o.is_dir:
                    yield o.object_name[len(prefix):].rstrip("/")
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

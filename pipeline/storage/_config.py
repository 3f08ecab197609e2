"""Where the object store is and how to talk to it: :class:`StoreConfig`, from the settings (the client:
:mod:`pipeline.storage._s3`).

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

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import StoreError
from pipeline.models import SECURITY_ORDER
from pipeline.settings import StoreSettings
from pipeline.storage._embedded_files import EmbeddedFiles


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

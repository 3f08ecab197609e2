"""Every setting taken from the environment, read in one place, once, at the edges, and passed down.

The edges (the ``dossier`` command, the Prefect flows, the fetch service) call :meth:`Settings.load`; the library
below takes the area it needs as an argument and never reads the environment itself. Empty variables count as unset.
Each area is one model; each field's alias is the one variable it is read from and its docstring says what it means:
``docs/reference/configuration.md`` is generated from them (``make docs``; ``tests/test_docs.py`` fails when stale).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pipeline.errors import SettingsError
from pipeline.folders import private_folder


class _Area(BaseModel):
    """One area's settings; every field's alias is the variable it is read from, and no other variable is read.

    A plain model, not pydantic-settings' ``BaseSettings``: that one also reads a variable named like each field
    (``home`` read ``HOME``: every command run without DOSSIER_HOME used the user's home as its state folder)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, use_attribute_docstrings=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from a mapping of variables (None: this process's environment)."""
        env = os.environ if environ is None else environ
        values = {f.alias: env[f.alias].strip() for f in cls.model_fields.values()
                  if f.alias and env.get(f.alias, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}={e.get('input')!r}: {e['msg']}"
                                 for e in exc.errors())
            raise SettingsError(f"invalid setting(s): {problems}") from None


class PathSettings(_Area):
    """Where the pipeline keeps its state."""

    home: Path = Field(Path(".state"), alias="DOSSIER_HOME")
    """The state folder: store data and credentials, caches, work folders, ledger, keys, the access database. Made 0700;
    refused when another user owns it or others may write into it."""
    slots_dir: Path | None = Field(None, alias="DOSSIER_SLOTS_DIR")
    """Folder of the host's page-slot lock files (default ``/tmp/dossier-slots-<uid>``); refused when another user made
    it, others may write into it, or it is a symbolic link."""


class OperationsSettings(_Area):
    """The local operations set of ``make up``: hot folder, rooms, Prefect server port."""

    hotfolder: Path | None = Field(None, alias="DOSSIER_HOTFOLDER")
    """The hot folder of ``make up`` (default ``./hotfolder``)."""
    rooms_list: str = Field("", alias="DOSSIER_ROOMS")
    """The rooms ``make up`` starts a worker for, comma-separated (default: the hot folder's rooms)."""
    rooms_file: Path | None = Field(None, alias="DOSSIER_ROOMS_FILE")
    """The administrator's rooms file: each room's agencies and case numbers (default ``<state>/rooms.yaml``; ``dossier
    watch --rooms``)."""
    prefect_port: int = Field(4200, alias="PREFECT_PORT")
    """The port of ``make up``'s Prefect server."""
    service_port: int = Field(8080, alias="DOSSIER_SERVICE_PORT", ge=1, le=65535)
    """The port of ``make up``'s fetch service and operators' desk."""
    first_heartbeat_seconds: int = Field(120, alias="DOSSIER_FIRST_HEARTBEAT_SECONDS", ge=10)
    """How long a flow run may be Running without a heartbeat before an automation marks it Crashed."""
    stuck_seconds: float = Field(360.0, alias="DOSSIER_STUCK_RUN_SECONDS", ge=1)
    """How long the watcher lets a run it follows stay Pending, or Running after its last heartbeat, before it marks
    it Crashed itself (the automations' 180 s and 90 s, missed when a killed server lost their wait)."""
    retry_delays_list: str = Field("", alias="DOSSIER_RUN_RETRY_DELAYS", pattern=r"^\s*(\d+(\.\d+)?\s*(,\s*|$))*$")
    """Seconds the watcher waits before each retry of a run the machinery failed (comma-separated, in order)."""

    @property
    def rooms(self) -> list[str]:
        """The rooms named (comma-separated), in order."""
        return [r.strip() for r in self.rooms_list.split(",") if r.strip()]

    @property
    def retry_delays(self) -> tuple[float, ...] | None:
        """The watcher's retry delays named (None: its own, 30 s to 10 min)."""
        found = tuple(float(d) for d in self.retry_delays_list.split(",") if d.strip())
        return found or None


class StoreSettings(_Area):
    """The object store; without an endpoint, the embedded store of the state folder."""

    endpoint: str = Field("", alias="DOSSIER_S3_ENDPOINT")
    """``host:port`` or ``http(s)://host:port`` of the S3 API; unset: the embedded store of the state folder."""
    access_key: str = Field("", alias="DOSSIER_S3_ACCESS_KEY")
    """The S3 access key (anonymous access is never used)."""
    secret_key: SecretStr = Field(SecretStr(""), alias="DOSSIER_S3_SECRET_KEY")
    """The S3 secret key."""
    bucket: str = Field("", alias="DOSSIER_S3_BUCKET")
    """The bucket (default ``dossiers``); it needs versioning, and object lock for retention."""
    tls: bool | None = Field(None, alias="DOSSIER_S3_TLS")
    """``1``/``0``: HTTPS; default from the endpoint's scheme, and for a bare ``host:port`` HTTPS unless the host is
    loopback."""
    ca_bundle: str = Field("", alias="DOSSIER_S3_CA_BUNDLE")
    """PEM file of the CAs to trust for the store's TLS."""
    region: str = Field("", alias="DOSSIER_S3_REGION")
    """The S3 region (default ``us-east-1``)."""
    max_security: str = Field("", alias="DOSSIER_S3_MAX_SECURITY")
    """The highest security level the bucket may hold: ``public`` … ``top-secret`` (default ``internal``); a batch
    above it is refused before any page work."""
    timeout: float | None = Field(None, alias="DOSSIER_S3_TIMEOUT", gt=0)
    """Per-request read timeout in seconds (default 30)."""
    retries: int | None = Field(None, alias="DOSSIER_S3_RETRIES", ge=0)
    """Retries of a failed store request, with backoff (default 3)."""
    audit_lock_days: int | None = Field(None, alias="DOSSIER_AUDIT_LOCK_DAYS", ge=0)
    """COMPLIANCE retention (days) of the audit log's segments and checkpoints: default 3650 where the bucket has object
    lock, ``0`` for none; any other value requires object lock."""
    store_port: int | None = Field(None, alias="DOSSIER_STORE_PORT")
    """Base port of the embedded store (default 8333)."""


class SigningSettings(_Area):
    """The signing key (a PKCS#12 file or a PKCS#11 token), the timestamp authority and the trust roots."""

    pkcs12: Path | None = Field(None, alias="DOSSIER_SIGN_PKCS12")
    """A PKCS#12 file holding the signing key and its certificate."""
    password: SecretStr | None = Field(None, alias="DOSSIER_SIGN_PASSWORD")
    """The PKCS#12 file's password."""
    pkcs11_module: Path | None = Field(None, alias="DOSSIER_SIGN_PKCS11_MODULE")
    """A PKCS#11 module (HSM, USB key; tested with SoftHSM2) holding the signing key."""
    pkcs11_token: str = Field("", alias="DOSSIER_SIGN_PKCS11_TOKEN")
    """The PKCS#11 token's label."""
    pkcs11_key: str = Field("", alias="DOSSIER_SIGN_PKCS11_KEY")
    """The signing key's label on the token."""
    pkcs11_cert: str = Field("", alias="DOSSIER_SIGN_PKCS11_CERT")
    """The certificate's label on the token."""
    pkcs11_pin: SecretStr | None = Field(None, alias="DOSSIER_SIGN_PKCS11_PIN")
    """The token's PIN."""
    reason: str = Field("", alias="DOSSIER_SIGN_REASON")
    """Overrides the profile's signing reason."""
    location: str = Field("", alias="DOSSIER_SIGN_LOCATION")
    """Overrides the profile's signing location."""
    visible: bool = Field(False, alias="DOSSIER_SIGN_VISIBLE")
    """``1``: a visible signature stamp even where the profile asks for none; unset or ``0``: as the profile says."""
    timeout: float = Field(60.0, alias="DOSSIER_SIGN_TIMEOUT", gt=0)
    """Seconds a signature may take."""
    tsa_url: str = Field("", alias="DOSSIER_TSA_URL")
    """An RFC 3161 timestamp authority: signatures become PAdES B-T (else B-B)."""
    trust_roots_list: str = Field("", alias="DOSSIER_TRUST_ROOTS")
    """PEM certificates (``:``-separated) that signatures must chain to when verifying."""
    development_key: bool = Field(False, alias="DOSSIER_DEVELOPMENT_KEY")
    """``1``: without a configured key, sign with (and trust) the generated development key — the demo and tests only;
    otherwise publishing without a key is refused (exit 8)."""

    @property
    def trust_roots(self) -> list[Path]:
        """The configured trust roots, in order."""
        return [Path(p) for p in self.trust_roots_list.split(os.pathsep) if p]


class ProcessingSettings(_Area):
    """How wide pages (imaging and OCR) run, here or on a dask cluster."""

    workers: int | None = Field(None, alias="DOSSIER_WORKERS", ge=1)
    """Pages processed at once in a run (default: one per core)."""
    ocr_chunk: int = Field(8, alias="DOSSIER_OCR_CHUNK", ge=1)
    """Pages per page task, one OCR engine run each."""
    page_slots: int | None = Field(None, alias="DOSSIER_PAGE_SLOTS", ge=1)
    """Pages processed at once on this host across all runs (default: one per core)."""
    dask_address: str = Field("", alias="DOSSIER_DASK_ADDRESS")
    """Run page tasks on this dask.distributed scheduler (``tcp://host:8786``)."""
    review_timeout: int = Field(30 * 24 * 3600, alias="DOSSIER_REVIEW_TIMEOUT", ge=1)
    """Seconds a run waits paused for a 卷内目录 review before it fails (default 30 days)."""

    @property
    def page_workers(self) -> int:
        """Pages processed at once: the configured number, else one per core."""
        return self.workers or cpu_count()


class ServiceSettings(_Area):
    """The fetch service and the links shown in the Prefect UI."""

    api_cache_ttl: float = Field(5.0, alias="DOSSIER_API_CACHE_TTL", ge=0)
    """Seconds the fetch service caches a manifest."""
    api_presign_seconds: int = Field(0, alias="DOSSIER_API_PRESIGN_SECONDS", ge=0)
    """> 0: volumes are served as presigned redirects valid this long."""
    artifact_base_url: str = Field("", alias="DOSSIER_ARTIFACT_BASE_URL")
    """The fetch service's address the Prefect artifacts link to (the contact sheets it serves to the desk's people,
    audited, and the desk's page of a failed run's case); ``make up`` sets it. Never serve the state folder."""
    tls_certfile: Path | None = Field(None, alias="DOSSIER_TLS_CERTFILE")
    """``dossier serve`` over HTTPS: the certificate chain (PEM), as ``--certfile``."""
    tls_keyfile: Path | None = Field(None, alias="DOSSIER_TLS_KEYFILE")
    """``dossier serve`` over HTTPS: the certificate's key (PEM), as ``--keyfile``."""


class AccessSettings(_Area):
    """The requesters' side: the access database, web sessions, the request sweeper, tokens."""

    db_url: SecretStr = Field(SecretStr(""), alias="DOSSIER_DB_URL")
    """The access database (requests, users, tokens, grants, case owners, the audit key): a SQLAlchemy URL such as
    ``postgresql://dossier:…@db/dossier``; default the SQLite file ``<state>/access.db``."""
    session_hours: float = Field(8.0, alias="DOSSIER_SESSION_HOURS", gt=0)
    """How long a web sign-in lasts, in hours."""
    sweep_seconds: float = Field(30.0, alias="DOSSIER_REQUEST_SWEEP_SECONDS", gt=0)
    """How often the service ends expired access and releases requests whose dossier appeared."""
    cookie_secure: bool | None = Field(None, alias="DOSSIER_COOKIE_SECURE")
    """``1``: session cookies always ``Secure``; ``0``: never; default: when the request came over TLS (directly or
    through a proxy's ``X-Forwarded-Proto``)."""
    token_days: int = Field(365, alias="DOSSIER_TOKEN_DAYS", ge=1)
    """How long a new bearer token is valid, in days."""

    def database_url(self, layout: StateLayout) -> str:
        """The configured database URL, else the SQLite file of the state folder."""
        return self.db_url.get_secret_value() or f"sqlite:///{layout.database}"


class SearchSettings(_Area):
    """The full-text index of published pages."""

    backend: str = Field("auto", alias="DOSSIER_SEARCH_BACKEND", pattern="^(auto|tantivy|postgresql)$")
    """The full-text index: ``tantivy`` (a folder), ``postgresql`` (the access database's server) or ``auto``
    (PostgreSQL when DOSSIER_DB_URL is one, else Tantivy)."""
    index: Path | None = Field(None, alias="DOSSIER_SEARCH_INDEX")
    """The Tantivy index folder (default ``<state>/search``)."""

    def folder(self, layout: StateLayout) -> Path:
        """The Tantivy index folder: DOSSIER_SEARCH_INDEX, else the state folder's."""
        return self.index or layout.search_index
class LocaleSettings(_Area):
    """How people read what the pipeline tells them: the language of its messages and the local time shown."""

    language: str = Field("zh_CN", alias="DOSSIER_LANG", pattern=r"^(zh_CN|zh|en)([._@].*)?$")
    """zh_CN (default) or en: reason.txt, `dossier status`, review notes and the command line's errors."""
    timezone: str = Field("Asia/Shanghai", alias="DOSSIER_TIMEZONE")
    """The time zone times are shown in (an IANA name); stored times stay UTC."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
        return value

    def zone(self):
        """The time zone to show times in."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)


class Settings(BaseModel):
    """All settings, one model per area."""

    model_config = {"frozen": True}

    paths: PathSettings = PathSettings.model_construct()
    store: StoreSettings = StoreSettings.model_construct()
    signing: SigningSettings = SigningSettings.model_construct()
    processing: ProcessingSettings = ProcessingSettings.model_construct()
    service: ServiceSettings = ServiceSettings.model_construct()
    operations: OperationsSettings = OperationsSettings.model_construct()
    access: AccessSettings = AccessSettings.model_construct()
    search: SearchSettings = SearchSettings.model_construct()
    locale: LocaleSettings = LocaleSettings.model_construct()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every area from the environment (or a mapping of variables): call once, at an edge."""
        return cls(**{name: field.annotation.from_environ(environ)  # type: ignore[union-attr]
                      for name, field in cls.model_fields.items()})

    def layout(self, home: str | Path | None = None) -> StateLayout:
        """The state folder's layout: ``home`` when given (a --state option), else DOSSIER_HOME, else ./.state."""
        return StateLayout.at(home or self.paths.home)


@dataclass(frozen=True)
class StateLayout:
    """Every folder of the state folder, known in this one place."""

    root: Path

    @classmethod
    def at(cls, home: str | Path, create: bool = True) -> StateLayout:
        """The layout of a state folder (made absolute; created 0700 when missing unless ``create`` is False).
        It holds keys and credentials: one owned by another user or writable by others is refused
        (SettingsError)."""
        root = Path(home).resolve()
        private_folder(root, "state folder", create=create)
        return cls(root)

    @property
    def store(self) -> Path:
        """The embedded object store: data, logs, credentials."""
        return self.root / "store"

    @property
    def signing(self) -> Path:
        """The development signing key and certificate (demo only)."""
        return self.root / "signing"

    @property
    def page_cache(self) -> Path:
        """Finished pages, keyed by content, profile and pipeline version."""
        return self.root / "cache" / "pages"

    @property
    def ocr_cache(self) -> Path:
        """OCR results, keyed by the image read and the engine's settings."""
        return self.root / "cache" / "ocr"

    @property
    def work(self) -> Path:
        """One folder per case and batch: the local dossier and what a rerun needs."""
        return self.root / "work"

    disclosure = property(lambda self: self.root / "disclosure", doc="Disclosure copies in the making, with reviews.")

    @property
    def ledger(self) -> Path:
        """The hot-folder ledger: one record per claimed batch fingerprint."""
        return self.root / "hotfolder" / "ledger"

    @property
    def rooms_file(self) -> Path:
        """The administrator's rooms file unless DOSSIER_ROOMS_FILE names another: each room's agencies and case
        numbers."""
        return self.root / "rooms.yaml"

    @property
    def database(self) -> Path:
        """The access database (SQLite) when DOSSIER_DB_URL names none: requests, users, tokens, grants."""
        return self.root / "access.db"

    @property
    def search_index(self) -> Path:
        """The embedded full-text index (Tantivy) of published pages."""
        return self.root / "search"

    @property
    def prefect(self) -> Path:
        """PREFECT_HOME of the CLI's temporary Prefect server."""
        return self.root / "prefect"


def cpu_count() -> int:
    """The cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def child_env(overrides: Mapping[str, str] | None = None, drop_prefixes: Sequence[str] = ()) -> dict[str, str]:
    """The environment for a child process: this process's, without variables starting with ``drop_prefixes``,
    with ``overrides`` set (e.g. one OpenMP thread for Tesseract, no AWS keys but the store's own for SeaweedFS)."""
    env = {k: v for k, v in os.environ.items() if not any(k.startswith(p) for p in drop_prefixes)}
    env.update(overrides or {})
    return env

"""The fetch service at the edge: the FastAPI app of :mod:`pipeline.access` over the configured store and access
database.

The operators' desk reads the state folder (the ledger, the runs' records, the page cache) and reaches Prefect (the
server of PREFECT_API_URL) to resume reviewed runs and start reruns; without a Prefect server it shows what the state
folder holds and says that actions need one.

``app_from_env`` is the factory uvicorn's workers call (``dossier serve --workers N``): the state folder, the cache
time and the presign time come from the settings (DOSSIER_HOME, DOSSIER_API_CACHE_TTL, DOSSIER_API_PRESIGN_SECONDS);
each worker keeps its own audit stream. The database (DOSSIER_DB_URL, else ``<state>/access.db``) is brought up to
date at start-up: the first start takes over the tokens and grants earlier versions kept in the object store.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from fastapi import FastAPI

from pipeline.access import Database, create_app
from pipeline.access.desk import DeskSources
from pipeline.settings import Settings
from pipeline.storage import ObjectStore, StoreConfig


def open_database(settings: Settings, home: Path, store: ObjectStore) -> Database:
    """The access database the settings name (else the state folder's SQLite file), migrated to the latest schema."""
    return Database.open(settings.access.database_url(settings.layout(home)), store=store)


def desk_sources(settings: Settings, home: Path) -> DeskSources:
    """What the operators' desk reads and whom it asks: the state folder, its runs, the hot folder, Prefect."""
    orchestrator = None
    if os.environ.get("PREFECT_API_URL"):
        from flows.orchestration import PrefectOrchestrator, ui_url

        orchestrator = PrefectOrchestrator(str(home), ui_url())
    ops = settings.operations
    return DeskSources(home=home, orchestrator=orchestrator,
                       hotfolders=(ops.hotfolder.resolve(),) if ops.hotfolder else (),
                       rooms_file=ops.rooms_file or settings.layout(home).rooms_file, zone=settings.locale.zone())


def create_service(settings: Settings, home: Path, cache_ttl: float, presign_seconds: int,
                   tls: bool = False) -> FastAPI:
    """The fetch API, request API and web pages (the operators' desk among them) over the store the settings name
    (else the embedded store of ``home``) and the access database; served over TLS (``tls``), session cookies are
    always ``Secure``."""
    config = StoreConfig.from_settings(settings.store, home)
    store = ObjectStore(config)
    access = settings.access
    secure = access.cookie_secure if access.cookie_secure is not None else (True if tls else None)
    from flows.search import open_search

    return create_app(config, database=open_database(settings, home, store), store=store, cache_ttl=cache_ttl,
                      presign_seconds=presign_seconds, sweep_seconds=access.sweep_seconds,
                      session_hours=access.session_hours, cookie_secure=secure,
                      search=open_search(settings, settings.layout(home)),
                      operations=desk_sources(settings, home), copy_signer=copy_signer(settings, home))


def copy_signer(settings: Settings, home: Path):
    """The key that certifies the copies the service serves, each marked for its recipient: the agency's signing key
    (DOSSIER_SIGN_*), else — only when the development key was asked for — the development key; None otherwise (the
    service then refuses to serve volumes: an unmarked copy is never handed out)."""
    from dataclasses import replace

    from pipeline.dossier import signer_for_run
    from pipeline.errors import SettingsError
    from pipeline.standard import load_profile

    try:
        signer = signer_for_run(settings.signing, settings.layout(home).signing, load_profile())
    except SettingsError:
        return None
    return replace(signer, reason="调阅副本", visible=False)


def tls_files(certfile: Path | None, keyfile: Path | None) -> tuple[Path, Path] | None:
    """The certificate and key ``dossier serve`` uses for HTTPS (None: plain HTTP), checked before serving: both or
    neither, readable, and a key that belongs to the certificate."""
    import ssl

    from pipeline.errors import SettingsError

    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise SettingsError("TLS needs both a certificate and its key (--certfile and --keyfile, or "
                            "DOSSIER_TLS_CERTFILE and DOSSIER_TLS_KEYFILE)")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(certfile), str(keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"cannot serve TLS with certificate {certfile} and key {keyfile}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
    return Path(certfile), Path(keyfile)


def settle_heap() -> None:
    """Move everything start-up made (modules, the app, SQLAlchemy's and Jinja2's objects: ~100k) into the garbage
    collector's permanent generation, so that its full collections during serving scan only what requests made
    (measured: a full collection of the unfrozen heap took 25-70 ms, a stall every request in flight waited for)."""
    gc.collect()
    gc.freeze()


def export_for_workers(home: Path, cache_ttl: float, presign_seconds: int,
                       tls: tuple[Path, Path] | None = None) -> None:
    """Put the service's options where :func:`app_from_env` in each uvicorn worker reads them."""
    os.environ.update(DOSSIER_HOME=str(home), DOSSIER_API_CACHE_TTL=str(cache_ttl),
                      DOSSIER_API_PRESIGN_SECONDS=str(presign_seconds))
    if tls is not None:
        os.environ.update(DOSSIER_TLS_CERTFILE=str(tls[0]), DOSSIER_TLS_KEYFILE=str(tls[1]))


def app_from_env() -> FastAPI:
    """App factory for several uvicorn workers: everything from the settings."""
    settings = Settings.load()
    service = settings.service
    app = create_service(settings, settings.layout().root, service.api_cache_ttl, service.api_presign_seconds,
                         tls=service.tls_certfile is not None)
    settle_heap()
    return app

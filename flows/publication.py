"""Publication, supersession and reprocessing in the access database and the audit log: who owns the case, who
published which manifest, and what it replaced.

- The **owner** of a case is recorded in the access database by its first publication, right before ``dossier.json``
  is written, and a later publication by another agency is refused there (``GrantStore.claim``): the database, not
  the manifest, decides who reads a case. The publishing run therefore needs the access database (DOSSIER_DB_URL,
  else the state folder's SQLite file) as well as the store; so do audit entries, authenticated with the audit key
  kept there.
- ``dossier.publish`` is stored **before** ``dossier.json`` is written (the publish step's last object), inside the
  owner's database transaction (when it cannot be stored the owner is not recorded either): the run
  (flow run id, kind: process, rerun or reprocess), the room and operating-system user it ran as, the owning agency,
  the batches, the new manifest's SHA-256 and the manifest version it supersedes. When the entry cannot be stored
  nothing is published (the run fails; a rerun publishes it).
- ``dossier.published`` follows with the new manifest version id (``confirms``: the first entry's hash); a manifest
  write that fails after the first entry adds ``dossier.void`` instead.
- ``dossier.reprocess`` is stored before a reprocessing run reads the published originals: who asked, the profile,
  the version it starts from.
"""

from __future__ import annotations

import getpass
import socket

from flows.runtime import current_flow_run_id
from pipeline.models import DossierManifest
from pipeline.storage import ObjectStore, StoreConfig, case_key, load_manifest, normalise_case_no


def run_identity(kind: str, room: str | None = None) -> dict:
    """Who is acting, for an audit entry: the flow run (when there is one), the room, the user and host."""
    run = current_flow_run_id()
    user = _user()
    return {"actor": f"run:{run}" if run else f"{kind}:{user}", "run_kind": kind, "flow_run": run or "-",
            "room": room or "-", "user": user, "host": socket.gethostname()[:64]}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


class PublicationAudit:
    """The owner and audit entries of one publication (:class:`pipeline.access.AuditFirst` on a publish stream):
    ``before_manifest`` is the publish step's hook (owner recorded, ``dossier.publish`` stored), ``published``
    records the version written; leaving the block after a failure that followed the first entry records
    ``dossier.void``."""

    def __init__(self, config: StoreConfig, database_url: str, case_no: str, who: dict):
        from pipeline.access import AuditFirst, AuditLog, GrantStore, audit_key

        self.database = open_access_database(database_url, config)
        self.owners = GrantStore(self.database, cache_ttl=0)
        log = AuditLog(_audit_store(config), audit_key(self.database), kind="publish")
        canonical = normalise_case_no(case_no)
        self.common = {**who, "case_no": canonical, "case_key": case_key(canonical), "status": 0, "bytes": 0}
        self.act = AuditFirst(log, self._void)

    def before_manifest(self, manifest: DossierManifest, sha256: str) -> None:
        """Record the case's owner (its first publication) or check it (a later one: RefusedError for another
        agency), storing ``dossier.publish`` before that commits; raises when either cannot be done: nothing is
        published."""
        def announce(_record) -> None:
            self.act.announce(**self.common, action="dossier.publish", result="ok", agency=manifest.agency or "-",
                              batches=list(manifest.batches), manifest_sha256=sha256,
                              supersedes=manifest.supersedes or "-", volumes=len(manifest.volumes),
                              standard=manifest.standard)

        self.owners.claim(manifest.case_no, manifest.agency, by=str(self.common.get("actor", "")),
                          before_commit=announce)

    def published(self, version_id: str | None) -> None:
        """``dossier.published``: the version id the manifest got."""
        if self.act.announced is not None:
            self.act.log.record(**self._follow(self.act.announced, "dossier.published", "ok",
                                               manifest_version=version_id or "-"))
        self.act.took_effect()

    def _follow(self, first: dict, action: str, result: str, **fields) -> dict:
        return {**self.common, "action": action, "result": result, "agency": first["agency"],
                "confirms": first["hash"], "manifest_sha256": first["manifest_sha256"], **fields}

    def _void(self, first: dict, failure: str) -> dict:
        return self._follow(first, "dossier.void", "void", detail=f"not published: {failure}")

    def __enter__(self) -> PublicationAudit:
        self.act.__enter__()
        return self

    def __exit__(self, kind, exc, tb) -> None:
        try:
            self.act.__exit__(kind, exc, tb)
        finally:
            self.database.dispose()


def open_access_database(database_url: str, config: StoreConfig):
    """The access database a run records owners and reads the audit key in, brought up to date (its first
    migration takes earlier records over from the store, as ``dossier serve`` does)."""
    from pipeline.access import Database

    return Database.open(database_url, store=ObjectStore(config))


def run_audit_log(config: StoreConfig, database_url: str, kind: str):
    """A new audit stream for this run, authenticated with the installation's audit key (read from the access
    database)."""
    from pipeline.access import AuditLog, audit_key

    database = open_access_database(database_url, config)
    try:
        key = audit_key(database)
    finally:
        database.dispose()
    return AuditLog(_audit_store(config), key, kind=kind)


def _audit_store(config: StoreConfig):
    """The object store the audit log is written to (the dossiers' own)."""
    return ObjectStore(config)


def audit_reprocess(config: StoreConfig, database_url: str, case_no: str, profile: str | None, who: dict) -> None:
    """Record a reprocessing before it reads the published originals (it fails when the entry cannot be stored)."""
    canonical = normalise_case_no(case_no)
    current = load_manifest(ObjectStore(config), canonical)
    log = run_audit_log(config, database_url, "reprocess")
    try:
        log.record_and_wait(**who, action="dossier.reprocess", case_no=canonical, case_key=case_key(canonical),
                            agency=current.manifest.agency or "-", status=0, bytes=0, result="ok",
                            profile=profile or "default", supersedes=current.version_id or "-",
                            standard=current.manifest.standard)
    finally:
        log.close()

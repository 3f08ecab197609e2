"""Reading a dossier by case number: its manifest, its versions, and every file fetched and verified."""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pipeline.common import sha256_stream
from pipeline.errors import CaseNumberError, DossierError, StoreError
from pipeline.models import DossierManifest
from pipeline.storage._casekey import case_key, case_no_from_key, normalise_case_no
from pipeline.storage._layout import (
    CASES_PREFIX,
    CATALOGUE_NAME,
    MANIFEST_NAME,
    REPORT_NAME,
    VOLUME_KEY_RE,
    DossierNotFound,
    IntegrityError,
    dossier_prefix,
)
from pipeline.storage._s3 import CHUNK, ObjectMissing, ObjectStore


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


def published_manifests(store: ObjectStore) -> Iterator[ManifestRef]:
    """The latest manifest of every published dossier (a case folder without a readable ``dossier.json`` is
    skipped: it is not a dossier)."""
    for key in store.list_folders(CASES_PREFIX):
        try:
            yield load_manifest(store, case_no_from_key(key))
        except (CaseNumberError, StoreError):
            continue


def read_dossier_manifest(store: ObjectStore, case_no: str, version_id: str | None = None) -> DossierManifest:
    """The latest manifest of a case, or an older one by its version id."""
    return load_manifest(store, case_no, version_id).manifest


def manifest_versions(store: ObjectStore, case_no: str) -> list[tuple[str, datetime | None, bool]]:
    """Every stored version of a case's manifest, newest first: (version id, last modified, is latest)."""
    key = dossier_prefix(case_no) + MANIFEST_NAME
    found = [(info.version_id or "", info.last_modified, latest)
             for info, latest, marker in store.list_versions(key) if info.key == key and not marker]
    return sorted(found, key=lambda v: v[1] or datetime.min.replace(tzinfo=UTC), reverse=True)


def fetch_targets(manifest: DossierManifest) -> list[tuple[str, str | None, str]]:
    """What a fetch downloads besides dossier.json: (key relative to the dossier, version id, SHA-256)."""
    targets = [(v.key, manifest.object_versions.get(v.key), v.sha256) for v in manifest.volumes]
    if manifest.catalogue_sha256:
        targets.append((CATALOGUE_NAME, manifest.object_versions.get(CATALOGUE_NAME), manifest.catalogue_sha256))
    if manifest.report_sha256:
        targets.append((REPORT_NAME, manifest.object_versions.get(REPORT_NAME), manifest.report_sha256))
    for rel, _, _ in targets:
        if rel not in (CATALOGUE_NAME, REPORT_NAME) and not VOLUME_KEY_RE.fullmatch(rel):
            raise StoreError(f"manifest of {manifest.case_no} names an unexpected object {rel!r}")
    return targets


class FetchDir:
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


def check_download(rel: str, expected: str, got: str, where: str) -> None:
    if got != expected.lower():
        raise IntegrityError(f"{rel} of {where}: downloaded bytes have SHA-256 {got}, the manifest says {expected}")


def run_verify(verify_pdf: Callable[[Path], None], path: Path, rel: str) -> None:
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
    target = FetchDir(out_dir, ck)
    try:
        target.path(MANIFEST_NAME).write_bytes(ref.data)
        for rel, version, sha in fetch_targets(manifest):
            dest = target.path(rel)
            got, _ = store.download(prefix + rel, dest, version)
            check_download(rel, sha, got, f"case {case_no} (fetched to {ck}/{rel})")
            if verify_pdf is not None and rel.endswith(".pdf"):
                run_verify(verify_pdf, dest, f"{ck}/{rel}")
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
    target = FetchDir(out_dir, ck)
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
                    if dest is None:
                        body = resp.read()
                        return body, hashlib.sha256(body).hexdigest()
                    with open(dest, "wb") as f:
                        return b"", sha256_stream(resp.iter_bytes(CHUNK), sink=f)[0]

            raw, _ = get("/manifest.json")
            manifest = DossierManifest.model_validate_json(raw)
            if normalise_case_no(manifest.case_no) != normalise_case_no(case_no):
                raise StoreError(f"{url} answered case {case_no} with the manifest of {manifest.case_no}")
            target.path(MANIFEST_NAME).write_bytes(raw)
            for rel, _, sha in fetch_targets(manifest):
                dest = target.path(rel)
                path = f"/volumes/{int(rel[8:-4])}" if rel.startswith("volumes/") else "/" + rel
                _, got = get(path, dest)
                check_download(rel, sha, got, f"case {case_no} via {url} (fetched to {ck}/{rel})")
                if verify_pdf is not None and rel.endswith(".pdf"):
                    run_verify(verify_pdf, dest, f"{ck}/{rel}")
        return target.commit()
    except httpx.HTTPError as exc:
        target.abort()
        raise StoreError(f"fetching case {case_no} from {url} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        target.abort()
        raise

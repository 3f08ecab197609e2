"""Reading a dossier by case number: its manifest, its versions, and every file fetched and verified."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pipeline.common import sha256_stream
from pipeline.errors import CaseNumberError, DossierError, StoreError
from pipeline.models import DisclosureManifest, DossierManifest
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


def published_manifests(store: ObjectStore, workers: int = 8) -> Iterator[ManifestRef]:
    """The latest manifest of every published dossier, read ``workers`` at a time (a case folder without a
    readable ``dossier.json`` is skipped: it is not a dossier)."""
    def load(key: str) -> ManifestRef | None:
        try:
            return load_manifest(store, case_no_from_key(key))
        except (CaseNumberError, StoreError):
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from (ref for ref in pool.map(load, store.list_folders(CASES_PREFIX)) if ref is not None)


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


class _ServiceClient:
    """GETs under one case of the HTTP service, as one bearer token; refusals become StoreErrors."""

    def __init__(self, client, url: str, case_no: str, params: dict | None):
        self.client, self.url, self.case_no, self.params = client, url, case_no, params
        self.base = url.rstrip("/") + "/dossiers/" + quote(normalise_case_no(case_no), safe="")

    def get(self, path: str, dest: Path | None = None) -> tuple[bytes, str, dict]:
        """The body (or, with ``dest``, the file written), its SHA-256 and the answer's headers."""
        with self.client.stream("GET", self.base + path, params=self.params) as resp:
            if resp.status_code != 200:
                resp.read()
                try:
                    detail = resp.json().get("detail", resp.text)
                except ValueError:
                    detail = resp.text
                raise StoreError(f"{self.url} refused GET /dossiers/…{path} for case {self.case_no}: "
                                 f"HTTP {resp.status_code} {detail}")
            if dest is None:
                body = resp.read()
                return body, hashlib.sha256(body).hexdigest(), dict(resp.headers)
            with open(dest, "wb") as f:
                return b"", sha256_stream(resp.iter_bytes(CHUNK), sink=f)[0], dict(resp.headers)


def check_volume_copy(rel: str, expected: str, got: str, headers: dict, dest: Path,
                      copy_check: Callable[[Path, str], None] | None, where: str) -> None:
    """A volume as the service serves it — a copy marked for its reader — checked: its bytes arrived whole (the
    SHA-256 the service names), it was made from the volume the manifest names, and ``copy_check`` agrees (the
    copy's own record of its source, read from the file). A volume served as it is stored is checked against the
    manifest's SHA-256 directly."""
    if not headers.get("x-copy-id"):
        check_download(rel, expected, got, where)
        return
    if headers.get("x-content-sha256") != got:
        raise IntegrityError(f"{rel} of {where}: the copy arrived with SHA-256 {got}, the service sent "
                             f"{headers.get('x-content-sha256')}")
    if headers.get("x-copy-source-sha256") != expected.lower():
        raise IntegrityError(f"{rel} of {where}: the copy was made from a volume with SHA-256 "
                             f"{headers.get('x-copy-source-sha256')}, the manifest names {expected}")
    if copy_check is None:
        raise IntegrityError(f"{rel} of {where}: a marked copy arrived and nothing checks what it was made from")
    copy_check(dest, expected)


def fetch_via_server(url: str, token: str, case_no: str, out_dir: Path,
                     verify_pdf: Callable[[Path], None] | None = None, timeout: float = 60.0,
                     version_id: str | None = None, tls_verify: bool | str = True,
                     copy_check: Callable[[Path, str], None] | None = None, disclosure: bool = False) -> Path:
    """Fetch a dossier — or, with ``disclosure``, the disclosure copy (阅卷版) released to the caller — through the
    HTTP service (``dossier serve``) with the same checks as :func:`fetch_dossier`; every volume arrives as a copy
    marked for the caller and is checked by :func:`check_volume_copy`. ``tls_verify`` may name a CA bundle file."""
    import httpx

    ck = case_key(case_no)
    target = FetchDir(out_dir, ck)
    try:
        verify = ssl.create_default_context(cafile=tls_verify) if isinstance(tls_verify, str) else tls_verify
        with httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"}, verify=verify) as http:
            client = _ServiceClient(http, url, case_no, {"version": version_id} if version_id else None)
            targets, prefix = (_disclosure_targets if disclosure else _dossier_targets)(client, target)
            where = f"case {case_no} via {url}"
            for rel, sha in targets:
                dest = target.path(rel)
                _, got, headers = client.get(prefix + (f"/volumes/{int(rel[8:-4])}" if rel.startswith("volumes/")
                                                       else "/" + rel), dest)
                check_volume_copy(rel, sha, got, headers, dest, copy_check, f"{where} (fetched to {ck}/{rel})")
                if verify_pdf is not None and rel.endswith(".pdf"):
                    run_verify(verify_pdf, dest, f"{ck}/{rel}")
        return target.commit()
    except httpx.HTTPError as exc:
        target.abort()
        raise StoreError(f"fetching case {case_no} from {url} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        target.abort()
        raise


def _dossier_targets(client: _ServiceClient, target: FetchDir) -> tuple[list[tuple[str, str]], str]:
    raw, _, _ = client.get("/manifest.json")
    manifest = DossierManifest.model_validate_json(raw)
    if normalise_case_no(manifest.case_no) != normalise_case_no(client.case_no):
        raise StoreError(f"{client.url} answered case {client.case_no} with the manifest of {manifest.case_no}")
    target.path(MANIFEST_NAME).write_bytes(raw)
    return [(rel, sha) for rel, _, sha in fetch_targets(manifest)], ""


def _disclosure_targets(client: _ServiceClient, target: FetchDir) -> tuple[list[tuple[str, str]], str]:
    raw, _, _ = client.get("/disclosure")
    view = json.loads(raw)
    manifest = DisclosureManifest.model_validate(view["manifest"])
    if normalise_case_no(manifest.case_no) != normalise_case_no(client.case_no):
        raise StoreError(f"{client.url} answered case {client.case_no} with the copy of {manifest.case_no}")
    target.path("disclosure.json").write_text(json.dumps(view["manifest"], ensure_ascii=False, indent=2),
                                              encoding="utf-8")
    if view.get("catalogue") is not None:
        target.path(CATALOGUE_NAME).write_text(json.dumps(view["catalogue"], ensure_ascii=False, indent=2),
                                               encoding="utf-8")
    return [(v.key, v.sha256) for v in manifest.volumes], "/disclosure"


def published_cases(store: ObjectStore) -> Iterator[str]:
    """The case numbers whose dossier exists for readers (a ``dossier.json`` that is not deleted), in key order."""
    suffix = "/" + MANIFEST_NAME
    for info in store.list_keys(CASES_PREFIX):
        if info.key.endswith(suffix) and info.key.count("/") == 2:
            yield case_no_from_key(info.key[len(CASES_PREFIX):-len(suffix)])


def withdraw_dossier(store: ObjectStore, case_no: str) -> ManifestRef:
    """Withdraw a published dossier: a delete marker hides its ``dossier.json`` from every reader, so the dossier no
    longer exists for them; every stored version (volumes, originals, earlier manifests) stays as it was. Returns the
    manifest that was withdrawn (DossierNotFound when there is none)."""
    ref = load_manifest(store, case_no)
    store.delete(dossier_prefix(ref.manifest.case_no) + MANIFEST_NAME)
    return ref

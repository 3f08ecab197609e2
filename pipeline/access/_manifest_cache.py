"""Manifests as the fetch service reads them: the latest per case rechecked cheaply, versions kept in an LRU."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from pipeline.storage import (
    DossierNotFound,
    ManifestRef,
    ObjectStore,
    case_key,
    dossier_prefix,
    load_manifest,
)


class ManifestCache:
    """Latest manifest per case, rechecked after ``ttl`` seconds with one HEAD request (single flight per case);
    manifests and rendered views by version id, which are immutable, in an LRU."""

    def __init__(self, store: ObjectStore, ttl: float, size: int = 512, grace: float = 5.0):
        self.store, self.ttl, self.size, self.grace = store, ttl, size, grace
        self._refreshing: set[str] = set()
        self._latest: dict[str, tuple[float, ManifestRef | None]] = {}
        self._by_version: OrderedDict[tuple[str, str], ManifestRef] = OrderedDict()
        self._views: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(64)]

    def peek(self, canonical: str, version: str | None) -> tuple[bool, ManifestRef | None, bool]:
        """(hit, manifest, stale) from memory only, safe on the event loop. A stale hit (older than ``ttl`` but
        within ``grace``) may be served while one background refresh runs (see :meth:`refresh_soon`)."""
        key = case_key(canonical)
        with self._lock:
            if version is not None:
                ref = self._by_version.get((key, version))
                return ref is not None, ref, False
            hit = self._latest.get(key)
        if hit is not None:
            age = time.monotonic() - hit[0]
            if age < self.ttl:
                return True, hit[1], False
            if age < self.ttl + self.grace:
                return True, hit[1], True
        return False, None, False

    def refresh_soon(self, canonical: str) -> None:
        """Start one background refresh of a case's latest manifest (no-op when one is already running)."""
        key = case_key(canonical)
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                self._load_latest(canonical, key)
            except Exception:  # noqa: BLE001 - a failed refresh leaves the entry to expire; requests then report it
                pass
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="manifest-refresh", daemon=True).start()

    def get(self, canonical: str, version: str | None) -> ManifestRef | None:
        """The manifest (latest or by version), or None when there is none; reads the store when needed."""
        key = case_key(canonical)
        found, ref, _ = self.peek(canonical, version)
        if found:
            return ref
        if version is not None:
            try:
                ref = load_manifest(self.store, canonical, version)
            except DossierNotFound:
                return None
            self._remember(key, ref)
            return ref
        with self._stripes[hash(key) % len(self._stripes)]:  # one reader per case loads it, the others wait
            found, ref, stale = self.peek(canonical, None)
            if found and not stale:
                return ref
            return self._load_latest(canonical, key)

    def _load_latest(self, canonical: str, key: str) -> ManifestRef | None:
        with self._lock:
            previous = self._latest.get(key)
        info = self.store.stat(dossier_prefix(canonical) + "dossier.json")
        if info is None:
            ref = None
        elif previous and previous[1] is not None and previous[1].version_id == info.version_id:
            ref = previous[1]  # unchanged: the HEAD request was enough
        else:
            try:
                ref = load_manifest(self.store, canonical, info.version_id)
            except DossierNotFound:
                ref = None
        with self._lock:
            if len(self._latest) > 10 * self.size:
                self._latest.clear()
            self._latest[key] = (time.monotonic(), ref)
        if ref is not None:
            self._remember(key, ref)
        return ref

    def _remember(self, key: str, ref: ManifestRef) -> None:
        if ref.version_id is None:
            return
        with self._lock:
            self._by_version[(key, ref.version_id)] = ref
            self._by_version.move_to_end((key, ref.version_id))
            while len(self._by_version) > self.size:
                self._by_version.popitem(last=False)

    def peek_view(self, ref: ManifestRef) -> bytes | None:
        """The rendered body of a manifest version if already built."""
        with self._lock:
            return self._views.get((ref.manifest.case_key, ref.version_id or ""))

    def view(self, ref: ManifestRef, build) -> bytes:
        """The rendered ``GET /dossiers/{case_no}`` body of a manifest version (built once, then cached)."""
        cached = self.peek_view(ref)
        if cached is not None:
            return cached
        body = build(ref)
        if ref.version_id is not None:
            with self._lock:
                self._views[(ref.manifest.case_key, ref.version_id)] = body
                while len(self._views) > self.size:
                    self._views.popitem(last=False)
        return body

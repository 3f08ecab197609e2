"""Pytest fixtures for a real, embedded SeaweedFS store, started once per test session.

Use from any test file (run with ``PYTHONPATH=.``)::

    # tests/conftest.py makes embedded_store and object_store available to every test module

    def test_something(object_store):
        object_store.put_bytes("cases/…/x", b"…")

- ``embedded_store`` (session): an :class:`EmbeddedStoreHandle` with ``.server`` (the running
  :class:`pipeline.storeserver.EmbeddedStore`), ``.state_dir`` and ``.config`` (a :class:`pipeline.store.StoreConfig`
  allowing every security level up to ``confidential``, 2 retries, 10 s timeout). The store listens on 127.0.0.1 on a
  free random base port (never the default 8333) with its data in a session temp folder, and is killed at the end.
- ``object_store`` (function): a fresh :class:`pipeline.store.ObjectStore` on that store.
- ``unique_case_no()``: a new plausible case number per call, so tests sharing the store never collide.
- ``make_dossier(folder, case_no, ...)``: small fake volumes, catalogue, report, originals and a matching
  ``DossierManifest`` for publish tests.
- ``serve_in_thread(app)``: a context manager running an ASGI app (e.g. ``pipeline.api.create_app(...)``) with
  uvicorn on a free loopback port; yields the base URL.

The first start of SeaweedFS takes ~2-3 s; stopping gracefully can take far longer, so teardown kills it after a
short grace (the data folder is thrown away anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.models import DossierManifest, OriginalEntry, VolumeEntry
from pipeline.storage import EmbeddedStore, ObjectStore, StoreConfig, case_key, free_base_port


@dataclass
class EmbeddedStoreHandle:
    """A running embedded store for tests."""

    server: EmbeddedStore
    state_dir: Path
    config: StoreConfig

    def store(self, **overrides) -> ObjectStore:
        """A new client, optionally with config overrides (e.g. max_security_level, retries)."""
        if not overrides:
            return ObjectStore(self.config)
        values = {f: getattr(self.config, f) for f in self.config.__dataclass_fields__}
        values.update(overrides)
        return ObjectStore(StoreConfig(**values))

    def restart(self) -> None:
        """Start it again after a test stopped it (same folder, same ports)."""
        self.server.start()


@pytest.fixture(scope="session")
def embedded_store(tmp_path_factory) -> EmbeddedStoreHandle:
    """One embedded SeaweedFS for the whole session: the one `make test` started (DOSSIER_TEST_STORE_STATE), or a
    private one on free ports in a temp folder, stopped at the end."""
    reuse = os.environ.get("DOSSIER_TEST_STORE_STATE")
    if reuse and EmbeddedStore(Path(reuse)).status().running:
        state, server, owned = Path(reuse), EmbeddedStore(Path(reuse)), False
    else:
        state = tmp_path_factory.mktemp("dossier-state")
        server, owned = EmbeddedStore(state, base_port=free_base_port()), True
        server.start()
    config = StoreConfig.embedded(state, max_security_level="confidential", retries=2, timeout=10.0)
    try:
        yield EmbeddedStoreHandle(server, state, config)
    finally:
        if owned:
            server.stop(timeout=3.0)


@pytest.fixture
def object_store(embedded_store) -> ObjectStore:
    """A client of the session's embedded store."""
    return embedded_store.store()


_serial = itertools.count(1)
_run = secrets.randbelow(9000) + 1000


def unique_case_no() -> str:
    """A new case number, e.g. （2024）豫0727刑初4821003号, different on every call and every session."""
    return f"（2024）豫0727刑初{_run}{next(_serial):03d}{os.getpid() % 1000:03d}号"


def _tiny_pdf(label: str, pad: int = 0) -> bytes:
    """A minimal valid one-page PDF whose content differs by label (in a comment: no font, so that the service can
    make it PDF/A when it copies it for a recipient), about ``pad`` bytes bigger by a grey image of random pixels on
    its page (a copy made of it keeps them)."""
    stream = f"% {label}\n72 720 m 144 720 l S".encode()
    pixels = secrets.token_bytes(pad)
    image = (b"<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 "
             b"/Length %d >>\nstream\n" % (max(pad, 1), max(pad, 1)) + (pixels or b"\x00") + b"\nendstream")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /XObject << /Pad 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream", image]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def make_dossier(folder: Path, case_no: str, volumes: int = 2, volume_bytes: int = 0, label: str = "v1",
                 security_level: str = "internal", agency: str = "豫0727法院", grants: tuple[str, ...] = (),
                 originals: int = 2) -> tuple[DossierManifest, Path, list[tuple[str, Path, Path]]]:
    """Fake published output: ``folder/out`` (volumes/NNN.pdf, catalogue.json, report.json), a batch folder with
    ``originals`` raw files, and the manifest naming them. ``volume_bytes`` pads each PDF to about that size."""
    out = folder / "out"
    (out / "volumes").mkdir(parents=True, exist_ok=True)
    entries = []
    for n in range(1, volumes + 1):
        data = _tiny_pdf(f"{case_key(case_no)[:12]} {label} vol {n}", max(0, volume_bytes - 800))
        path = out / "volumes" / f"{n:03d}.pdf"
        path.write_bytes(data)
        entries.append(VolumeEntry(number=n, of=volumes, key=f"volumes/{n:03d}.pdf",
                                   sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), pages=1, pdf_pages=1,
                                   documents=1, pdfa="1b"))
    (out / "catalogue.json").write_text(json.dumps({"case_no": case_no, "volumes": [], "label": label},
                                                   ensure_ascii=False), encoding="utf-8")
    (out / "report.json").write_text(json.dumps({"case_no": case_no, "passed": True, "label": label}),
                                     encoding="utf-8")
    batch_dir = folder / "batch-01"
    batch_dir.mkdir(exist_ok=True)
    given, declared = [], []
    for i in range(originals):
        raw = batch_dir / f"扫描_{i:04d}.tif"
        raw.write_bytes(b"II*\x00" + f"{label} raw page {i}".encode() + secrets.token_bytes(64))
        given.append(("batch-01", batch_dir, raw))
        declared.append(OriginalEntry(batch="batch-01", file=raw.name, key=f"originals/batch-01/{raw.name}",
                                      sha256=hashlib.sha256(raw.read_bytes()).hexdigest(),
                                      bytes=raw.stat().st_size))
    manifest = DossierManifest(
        case_no=case_no, case_key=case_key(case_no), case_title="张某某盗窃案", agency=agency,
        security_level=security_level, retention="永久", standard="DA/T 31-2017@1", pipeline_version="0.1.0",
        created=datetime.now(UTC), batches=["batch-01"], grants=list(grants), volumes=entries,
        documents=[], pages=[], originals=declared)
    return manifest, out, given


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1"):
    """Run an ASGI app with uvicorn in a thread on a free port; yields its base URL, stops it on exit."""
    import uvicorn

    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)

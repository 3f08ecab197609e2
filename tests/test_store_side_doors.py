"""The embedded store's side doors are shut: the filer's, master's and volume server's HTTP APIs and every gRPC port
give nothing without the store's own keys; only the S3 port with the credentials reaches data."""

from __future__ import annotations

import re
import secrets
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from pipeline.storage import port_plan
from pipeline.storage._embedded import weed_binary


def _http(method: str, port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def secret_object(object_store):
    """An object with a recognisable name and 200 KB of content (stored in a volume, not inline in the filer); deleted
    afterwards: the session's store is shared, and the access database takes token records over from there."""
    key = f"system/tokens/side-door-{secrets.token_hex(4)}.json"
    data = secrets.token_bytes(200_000)
    version = object_store.put_bytes(key, data)
    yield key, version, data
    object_store.delete(key)


def _ports(embedded_store) -> dict[str, int]:
    return port_plan(embedded_store.server.base_port)


def test_the_filer_http_api_lists_reads_writes_and_deletes_nothing(embedded_store, object_store, secret_object):
    key, version, data = secret_object
    filer = _ports(embedded_store)["filer.port"]
    folder = "/buckets/dossiers/" + key.rsplit("/", 1)[0] + "/"
    for method, path, body in (("GET", folder, None), ("GET", "/buckets/dossiers/" + key, None),
                               ("GET", f"/buckets/dossiers/{key}.versions/v_{version}", None),
                               ("PUT", "/buckets/dossiers/system/tokens/minted.json", b'{"id":"x"}'),
                               ("POST", "/buckets/dossiers/system/tokens/", b"x"),
                               ("DELETE", f"/buckets/dossiers/{key}.versions/?recursive=true", None),
                               ("DELETE", "/buckets/dossiers/?recursive=true", None)):
        status, answer = _http(method, filer, path, body)
        assert status >= 400, f"{method} {path} on the filer answered {status}"
        assert key.rsplit("/", 1)[1].encode() not in answer
    assert object_store.get_bytes(key) == data
    assert object_store.stat("system/tokens/minted.json") is None


def test_the_master_http_api_assigns_nothing_and_deletes_no_collection(embedded_store, object_store, secret_object):
    key, _, data = secret_object
    master = _ports(embedded_store)["master.port"]
    for path in ("/dir/assign", "/dir/lookup?volumeId=1", "/col/delete?collection=dossiers", "/vol/grow?count=1",
                 "/vol/status", "/dir/status", "/submit"):
        status, answer = _http("GET", master, path)
        assert status == 404, f"GET {path} on the master answered {status}: {answer[:100]!r}"
        assert b'"fid"' not in answer and b"Authorization" not in answer
    assert object_store.get_bytes(key) == data


def _file_id(embedded_store, key: str, version: str) -> str:
    """The volume file id of an object, asked the way only the store itself can: ``weed shell`` over gRPC with the
    store folder's certificate (``security.toml`` in its working directory)."""
    ports = _ports(embedded_store)
    master = f"127.0.0.1:{ports['master.port']}.{ports['master.port.grpc']}"
    filer = f"127.0.0.1:{ports['filer.port']}.{ports['filer.port.grpc']}"
    shell = subprocess.run([str(weed_binary()), "shell", f"-master={master}", f"-filer={filer}"],
                           input=f"fs.meta.cat /buckets/dossiers/{key}.versions/v_{version}\nexit\n",
                           cwd=embedded_store.server.root, capture_output=True, text=True, timeout=60)
    found = re.search(r'"fileId":\s*"(\d+,[0-9a-f]+)"', shell.stdout)
    assert found, f"weed shell found no chunk: {shell.stdout[-500:]} {shell.stderr[-500:]}"
    return found.group(1)


def test_the_volume_server_reads_writes_and_deletes_nothing_without_a_jwt(embedded_store, object_store,
                                                                          secret_object):
    key, version, data = secret_object
    fid = _file_id(embedded_store, key, version)
    volume = _ports(embedded_store)["volume.port"]
    for method, body in (("GET", None), ("DELETE", None), ("POST", b"overwritten")):
        status, answer = _http(method, volume, f"/{fid}", body)
        assert status == 401, f"{method} /{fid} on the volume server answered {status}"
        assert data[:64] not in answer
    assert object_store.get_bytes(key) == data


def _tls_handshake(port: int, tls_folder, client_certificate: bool) -> bytes:
    """Open gRPC's HTTP/2 over TLS and return the server's first bytes (its SETTINGS frame)."""
    context = ssl.create_default_context(cafile=str(tls_folder / "ca.crt"))
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    if client_certificate:
        context.load_cert_chain(str(tls_folder / "store.crt"), str(tls_folder / "store.key"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        return tls.recv(64)


def test_every_grpc_port_refuses_a_client_without_the_stores_certificate(embedded_store):
    tls_folder = embedded_store.server.root / "tls"
    grpc_ports = [port for name, port in _ports(embedded_store).items() if name.endswith(".grpc")]
    assert len(grpc_ports) == 5
    for port in grpc_ports:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _tls_handshake(port, tls_folder, client_certificate=False)
        assert _tls_handshake(port, tls_folder, client_certificate=True)[3:4] == b"\x04"  # the store's own: served
        with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:  # gRPC without TLS: nothing
            plain.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            try:
                answer = plain.recv(64)
            except ConnectionError:
                answer = b""
            assert not answer.startswith(b"\x00\x00"), "a plaintext HTTP/2 client was answered"


def test_the_store_keys_are_kept_in_owner_only_files(embedded_store):
    root = embedded_store.server.root
    for path in (root / "security.toml", root / "tls" / "store.key", root / "tls" / "ca.crt"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    assert "[jwt.filer_signing.read]" in (root / "security.toml").read_text()


def test_the_s3_port_still_answers_with_the_credentials_and_only_with_them(embedded_store, object_store,
                                                                           secret_object):
    key, version, data = secret_object
    assert object_store.get_bytes(key, version) == data
    assert object_store.presigned_url(key, version, 60)  # the fetch service's redirects are signed by S3 too
    with urllib.request.urlopen(object_store.presigned_url(key, version, 60), timeout=5) as signed:
        assert signed.read() == data
    status, _ = _http("GET", embedded_store.server.base_port, f"/dossiers/{key}")
    assert status == 403

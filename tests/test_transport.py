"""Transport: `dossier serve` over HTTPS with a certificate and key (Secure cookies then), and a remote S3 endpoint
given as host:port spoken to over HTTPS unless told otherwise."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pipeline.access import Database, UserStore
from pipeline.settings import StoreSettings
from pipeline.storage import StoreConfig
from tests.web_helpers import csrf_of

PASSWORD = "correct horse battery"


def _certificate(folder: Path, name: str = "cert") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / f"{name}.pem", folder / f"{name}.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_S3_", "DOSSIER_TLS_", "DOSSIER_COOKIE"))}
    env["DOSSIER_DB_URL"] = f"sqlite:///{tmp_path / 'access.db'}"
    return env


def _dossier(*args: str, env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@contextlib.contextmanager
def _serving_tls(embedded_store, tmp_path: Path):
    """``dossier serve`` with a certificate (one user, li); yields its https URL and an SSL context trusting it."""
    certfile, keyfile = _certificate(tmp_path)
    env = _serve_env(tmp_path)
    db = Database.open(env["DOSSIER_DB_URL"])
    UserStore(db).create("li", PASSWORD, "新封县人民检察院", ["clerk"], "李内勤")
    db.dispose()
    port = _free_port()
    server = _dossier("serve", "--state", str(embedded_store.state_dir), "--port", str(port),
                      "--certfile", str(certfile), "--keyfile", str(keyfile), env=env)
    trusted = ssl.create_default_context(cafile=str(certfile))
    try:
        url = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                assert httpx.get(url + "/health", verify=trusted, timeout=5).status_code == 200
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "dossier serve did not answer over HTTPS"
                time.sleep(0.3)
        yield url, trusted
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


@pytest.mark.slow  # dossier serve over HTTPS: 31 s at load 20
def test_serve_with_a_certificate_speaks_only_https_and_its_cookies_are_secure(embedded_store, tmp_path):
    with _serving_tls(embedded_store, tmp_path) as (url, trusted):
        with pytest.raises(httpx.TransportError):  # the same port over plain HTTP: no answer
            httpx.get(url.replace("https:", "http:") + "/health", timeout=5)
        with httpx.Client(base_url=url, verify=trusted, timeout=30) as browser:
            login = browser.get("/web/login")
            assert "secure" in login.headers["set-cookie"].lower()
            signed = browser.post("/web/login", data={"csrf": csrf_of(login.text), "username": "li",
                                                      "password": PASSWORD, "next": "/web/"})
            assert signed.status_code == 303
            session = [c for c in signed.headers.get_list("set-cookie") if c.startswith("dossier_session=")]
            assert session and "; secure" in session[0].lower() and "httponly" in session[0].lower()


@pytest.mark.slow  # dossier serve over HTTPS: 19 s at load 20
def test_over_https_every_answer_tells_browsers_to_keep_to_https(embedded_store, tmp_path):
    with _serving_tls(embedded_store, tmp_path) as (url, trusted):
        with httpx.Client(base_url=url, verify=trusted, timeout=30) as browser:
            answers = [browser.get(path) for path in ("/web/login", "/", "/dossiers/x", "/docs", "/health")]
    assert [a.status_code for a in answers] == [200, 303, 401, 200, 200]
    assert all(a.headers.get("strict-transport-security") == "max-age=31536000" for a in answers)


def test_serve_refuses_a_key_that_is_not_the_certificates_with_one_error_line(embedded_store, tmp_path):
    certfile, _ = _certificate(tmp_path, "one")
    _, other_key = _certificate(tmp_path, "two")
    done = _dossier("serve", "--state", str(embedded_store.state_dir), "--port", str(_free_port()),
                    "--certfile", str(certfile), "--keyfile", str(other_key), env=_serve_env(tmp_path))
    _, stderr = done.communicate(timeout=120)
    assert done.returncode == 8
    assert stderr.strip().startswith("错误：") and "cannot serve TLS with certificate" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow  # dossier serve started and refused: 20 s at load 20
def test_serve_refuses_a_certificate_without_its_key(embedded_store, tmp_path):
    certfile, _ = _certificate(tmp_path)
    done = _dossier("serve", "--state", str(embedded_store.state_dir), "--port", str(_free_port()),
                    "--certfile", str(certfile), env=_serve_env(tmp_path))
    _, stderr = done.communicate(timeout=120)
    assert done.returncode == 8 and "needs both a certificate and its key" in stderr


def _config(tmp_path: Path, **env: str) -> StoreConfig:
    keys = {"DOSSIER_S3_ACCESS_KEY": "AK", "DOSSIER_S3_SECRET_KEY": "SK"}
    return StoreConfig.from_settings(StoreSettings.from_environ({**keys, **env}), tmp_path)


@pytest.mark.parametrize("endpoint", ["s3.example.org:9000", "10.1.2.3:9000", "[2001:db8::1]:9000", "minio:9000"])
def test_a_remote_endpoint_given_as_host_and_port_is_spoken_to_over_https(tmp_path, endpoint):
    config = _config(tmp_path, DOSSIER_S3_ENDPOINT=endpoint)
    assert config.secure and config.url == f"https://{endpoint}"


@pytest.mark.parametrize("endpoint", ["127.0.0.1:8333", "127.0.0.2:9000", "localhost:9000", "[::1]:9000"])
def test_an_endpoint_on_this_machine_given_as_host_and_port_stays_plain_http(tmp_path, endpoint):
    assert not _config(tmp_path, DOSSIER_S3_ENDPOINT=endpoint).secure


def test_plain_http_to_a_remote_endpoint_only_when_asked_for(tmp_path):
    assert not _config(tmp_path, DOSSIER_S3_ENDPOINT="http://s3.example.org:9000").secure
    assert not _config(tmp_path, DOSSIER_S3_ENDPOINT="s3.example.org:9000", DOSSIER_S3_TLS="0").secure


def test_the_embedded_store_stays_on_plain_http_over_loopback(embedded_store, tmp_path):
    config = StoreConfig.from_settings(StoreSettings.from_environ({}), embedded_store.state_dir)
    assert not config.secure and config.endpoint.startswith("127.0.0.1:")

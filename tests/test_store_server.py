"""The embedded SeaweedFS: loopback only, private credentials, no anonymous access, status and stale pid files."""

import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error

from pipeline.errors import StoreError
from pipeline.settings import StoreSettings
from pipeline.storage import EmbeddedStore, StoreConfig, port_plan


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(ip, port) of every TCP socket the process listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:
                continue
            hexip, hexport = local.split(":")
            if width == 8:
                ip = ".".join(str(int(hexip[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "v6:" + hexip
            found.add((ip, int(hexport, 16)))
    return found


def test_embedded_store_listens_on_loopback_only_and_on_its_own_ports(embedded_store):
    pid = embedded_store.server.pid()
    addresses = _listening_addresses(pid)
    assert addresses, "no listening sockets found"
    assert {ip for ip, _ in addresses} == {"127.0.0.1"}
    assert {port for _, port in addresses} <= set(port_plan(embedded_store.server.base_port).values())
    assert 8333 not in {port for _, port in addresses}


def test_anonymous_requests_are_refused(embedded_store):
    url = f"http://{embedded_store.config.endpoint}/{embedded_store.config.bucket}?list-type=2"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 403


def test_wrong_secret_key_is_refused(embedded_store):
    client = Minio(embedded_store.config.endpoint, access_key=embedded_store.config.access_key,
                   secret_key="not-the-secret-key-at-all", secure=False, region="us-east-1")
    with pytest.raises(S3Error) as err:
        client.bucket_exists(embedded_store.config.bucket)
    assert err.value.code in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")


def test_generated_credentials_are_kept_in_an_owner_only_file(embedded_store):
    mode = stat.S_IMODE(embedded_store.server.credentials_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(embedded_store.server.root.stat().st_mode) == 0o700
    assert embedded_store.config.access_key in embedded_store.server.credentials_file.read_text()


def test_bucket_is_versioned_with_object_lock(embedded_store, object_store):
    assert object_store.client.get_bucket_versioning(object_store.bucket).status == "Enabled"
    object_store.require_object_lock()  # raises when the bucket was made without it


def test_status_reports_running_endpoint_bucket_and_pid(embedded_store):
    status = EmbeddedStore(embedded_store.state_dir).status()  # a fresh handle finds it from the state folder
    assert status.running and status.answering
    assert status.pid == int(embedded_store.server.pid_file.read_text())
    assert status.endpoint == f"127.0.0.1:{embedded_store.server.base_port}"
    assert status.bucket == "dossiers"


def test_a_running_store_is_found_through_a_relative_path_to_its_state_folder(embedded_store, monkeypatch):
    monkeypatch.chdir(embedded_store.state_dir.parent)
    status = EmbeddedStore(Path(embedded_store.state_dir.name)).status()  # as `dossier store stop` run from there
    assert status.running and status.pid == embedded_store.server.pid()
    assert embedded_store.server.pid_file.exists()


def test_starting_a_running_store_again_is_harmless(embedded_store):
    pid = embedded_store.server.pid()
    assert embedded_store.server.start().pid == pid


def test_stale_pid_file_is_removed_and_reported_as_not_running(tmp_path):
    server = EmbeddedStore(tmp_path, base_port=41000)
    server.root.mkdir(parents=True)
    server.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a weed process of this folder
    assert server.status().running is False
    assert not server.pid_file.exists()
    server.pid_file.write_text("999999999\n")
    assert server.stop() is False
    assert not server.pid_file.exists()


def test_config_without_endpoint_uses_the_embedded_store_and_its_keys(embedded_store):
    config = StoreConfig.from_settings(StoreSettings.from_environ({}), embedded_store.state_dir)
    assert config.endpoint == embedded_store.config.endpoint
    assert config.access_key == embedded_store.config.access_key
    assert config.embedded_state == embedded_store.state_dir


def test_config_without_endpoint_or_embedded_store_explains_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="DOSSIER_S3_ENDPOINT"):
        StoreConfig.from_settings(StoreSettings.from_environ({}), tmp_path)


def test_config_from_environment_reads_every_setting(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = StoreConfig.from_settings(StoreSettings.from_environ({
        "DOSSIER_S3_ENDPOINT": "https://s3.example.org:9000", "DOSSIER_S3_ACCESS_KEY": "AK",
        "DOSSIER_S3_SECRET_KEY": "SK", "DOSSIER_S3_BUCKET": "archive", "DOSSIER_S3_CA_BUNDLE": str(ca),
        "DOSSIER_S3_REGION": "cn-north-1", "DOSSIER_S3_MAX_SECURITY": "secret", "DOSSIER_S3_TIMEOUT": "7",
        "DOSSIER_S3_RETRIES": "1"}), tmp_path)
    assert (config.endpoint, config.secure, config.bucket, config.region) == \
        ("s3.example.org:9000", True, "archive", "cn-north-1")
    assert (config.ca_bundle, config.max_security_level, config.timeout, config.retries) == (ca, "secret", 7.0, 1)
    assert "SK" not in repr(config)


@pytest.mark.parametrize("env, message", [
    ({"DOSSIER_S3_ENDPOINT": "minio:9000"}, "anonymous"),
    ({"DOSSIER_S3_ENDPOINT": "minio:9000", "DOSSIER_S3_ACCESS_KEY": "a", "DOSSIER_S3_SECRET_KEY": "b",
      "DOSSIER_S3_MAX_SECURITY": "classified"}, "unknown security level"),
    ({"DOSSIER_S3_ENDPOINT": "http://minio:9000", "DOSSIER_S3_TLS": "1", "DOSSIER_S3_ACCESS_KEY": "a",
      "DOSSIER_S3_SECRET_KEY": "b"}, "contradicts"),
    ({"DOSSIER_S3_ENDPOINT": "ftp://minio:9000", "DOSSIER_S3_ACCESS_KEY": "a", "DOSSIER_S3_SECRET_KEY": "b"},
     "expected host:port"),
])
def test_bad_configuration_is_refused_with_a_reason(tmp_path, env, message):
    with pytest.raises(StoreError, match=message):
        StoreConfig.from_settings(StoreSettings.from_environ(env), tmp_path)

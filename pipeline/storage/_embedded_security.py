"""What closes the embedded store's side doors: only the S3 port, with the store's credentials, gives access to data.

``weed mini`` runs a master, a volume server, a filer and the S3 gateway in one process, each with an HTTP and a
gRPC port on 127.0.0.1. Left open, any local user could list every object through the filer's HTTP API, read or
delete data through the volume server, or wipe a whole bucket with the master's ``/col/delete`` — none of it passing
S3's credentials or object lock. Measured on ``weed mini`` 4.48 (``tests/test_store_server.py`` keeps it so):

- ``-disableHttp`` (in the command line, :meth:`EmbeddedStore.command`) turns off the filer's and the master's HTTP
  APIs (every path answers 404; the master keeps only its status page and ``/cluster/status``, which name no object).
- ``security.toml`` in the store folder (the process's working directory, where ``weed`` looks first) holds
  **JWT signing keys**: the volume server accepts a read, write or delete only with a token signed by the master
  (``jwt.signing``, ``jwt.signing.read``), the filer likewise (``jwt.filer_signing``, ``jwt.filer_signing.read``);
  tokens live 10 s. The S3 gateway gets them from the master over gRPC, inside the process.
- **gRPC with mutual TLS**: every component's gRPC port (and the unix sockets beside them) requires a client
  certificate issued by the store's own CA, so ``weed shell`` or any gRPC client without the store folder's key
  cannot list, read or change anything.

The keys and certificates are made again at every start (nothing outlives the process but the data), written only
its owner may read (the store folder is 0700, the files 0600).
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.common import write_private

GRPC_SECTIONS = ("master", "volume", "filer", "s3", "admin", "worker", "msg_broker", "msg_agent", "mq", "client")
"""Every gRPC role ``weed`` knows: each serves (and dials) with the store's certificate."""
JWT_SECONDS = 10


def _tls_material(folder: Path) -> tuple[Path, Path, Path]:
    """A fresh CA and one certificate for every component (server and client use), ECDSA P-256, valid 10 years."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(subject: str, issuer: x509.Name, key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=3650)))

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (builder("scan-to-dossier embedded store CA", name("scan-to-dossier embedded store CA"), ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (builder("seaweedfs", ca.subject, key)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = folder / "ca.crt", folder / "store.crt", folder / "store.key"
    write_private(paths[0], ca.public_bytes(pem))
    write_private(paths[1], cert.public_bytes(pem))
    write_private(paths[2], key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return paths


def _quoted(path: Path) -> str:
    text = str(path)
    if any(ch in text for ch in '"\\\n'):
        raise ValueError(f"store folder path {text!r} cannot be written into security.toml")
    return f'"{text}"'


def write_security(root: Path) -> Path:
    """Write ``<root>/security.toml`` and ``<root>/tls/`` for the next start; returns the toml's path."""
    tls = root / "tls"
    tls.mkdir(mode=0o700, exist_ok=True)
    tls.chmod(0o700)
    ca, cert, key = _tls_material(tls)
    lines = ["# written by scan-to-dossier at every start of the embedded store; see pipeline/storage/"
             "_embedded_security.py", ""]
    for section in ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"):
        lines += [f"[{section}]", f'key = "{secrets.token_hex(32)}"', f"expires_after_seconds = {JWT_SECONDS}", ""]
    lines += ["[access]", "ui = false", "", "[filer.expose_directory_metadata]", "enabled = false", "",
              "[grpc]", f"ca = {_quoted(ca)}", ""]
    for section in GRPC_SECTIONS:
        lines += [f"[grpc.{section}]", f"cert = {_quoted(cert)}", f"key = {_quoted(key)}", ""]
    path = root / "security.toml"
    write_private(path, "\n".join(lines))
    return path

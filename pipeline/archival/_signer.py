"""The signing key: from the settings (a PKCS#12 file or a PKCS#11 token), or the demo's development key."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pipeline.common import utcnow, write_private
from pipeline.errors import SigningKeyError, VolumeError
from pipeline.models import SigningPolicy
from pipeline.settings import SigningSettings

log = logging.getLogger(__name__)


DEV_SUBJECT_CN = "scan-to-dossier DEVELOPMENT KEY — NOT FOR PRODUCTION"
DEV_MARKER = "DEVELOPMENT KEY"
DEV_P12 = "development-signer.p12"
DEV_PASS = "development-signer.pass"
DEV_CERT = "development-signer.pem"
FIELD_NAME = "DossierSignature"
DEFAULT_REASON = "电子卷宗制作"
STAMP_BOX = (36.0, 36.0, 276.0, 120.0)  # bottom-left of the cover, in points


@dataclass
class SignerConfig:
    """Where the signing key is and how the signature looks: from the settings, a config file or the demo."""

    kind: Literal["pkcs12", "pkcs11"] = "pkcs12"
    pkcs12_path: Path | None = None
    passphrase: str | None = None
    pkcs11_module: Path | None = None
    token_label: str | None = None
    key_label: str | None = None
    cert_label: str | None = None
    pin: str | None = None
    reason: str = ""  # empty: the profile's reason (with_policy), else DEFAULT_REASON
    location: str = ""
    visible: bool = False
    tsa_url: str | None = None
    timeout: float = 60.0
    development: bool = False
    timestamper: Any = field(default=None, repr=False)  # an in-process pyHanko TimeStamper (tests); wins over tsa_url

    @property
    def pades_level(self) -> str:
        """B-T when a timestamp authority is configured, else B-B."""
        return "B-T" if (self.timestamper is not None or self.tsa_url) else "B-B"

    def with_policy(self, policy: SigningPolicy) -> SignerConfig:
        """This config with reason, location and visibility taken from a standard profile where not set here;
        a profile asking for B-T without a timestamp authority configured is an error."""
        if policy.pades_level == "B-T" and self.pades_level != "B-T":
            raise VolumeError("the standard profile asks for PAdES B-T but no timestamp authority is configured "
                              "(set DOSSIER_TSA_URL)")
        return replace(self, reason=self.reason or policy.reason, location=self.location or policy.location,
                       visible=self.visible or policy.visible)


@dataclass
class SignatureCheck:
    """What validating a volume's signature found; ``passed`` is the archival verdict."""

    present: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    coverage: str = "NONE"
    signer: str = ""
    certificate_sha256: str = ""
    not_after: datetime | None = None
    signed_at: datetime | None = None
    pades_level: str = ""
    timestamp_valid: bool | None = None
    timestamp_trusted: bool | None = None
    signatures: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Intact, valid, trusted, covering the entire file, one signature, no error."""
        return (self.present and self.intact and self.valid and self.trusted and self.coverage == "ENTIRE_FILE"
                and self.signatures == 1 and not self.errors)


def signer_from_settings(settings: SigningSettings) -> SignerConfig | None:
    """A SignerConfig from the DOSSIER_SIGN_* / DOSSIER_TSA_URL settings, or None when no key is configured."""
    p12, module = settings.pkcs12, settings.pkcs11_module
    if p12 and module:
        raise VolumeError("both DOSSIER_SIGN_PKCS12 and DOSSIER_SIGN_PKCS11_MODULE are set; choose one key source")
    if not p12 and not module:
        return None
    common = dict(reason=settings.reason, location=settings.location, visible=settings.visible,
                  tsa_url=settings.tsa_url or None, timeout=settings.timeout)
    if p12:
        password = settings.password.get_secret_value() if settings.password else None
        return SignerConfig(kind="pkcs12", pkcs12_path=p12, passphrase=password, **common)
    key = settings.pkcs11_key
    if not settings.pkcs11_token or not key:
        raise VolumeError("DOSSIER_SIGN_PKCS11_MODULE needs DOSSIER_SIGN_PKCS11_TOKEN and DOSSIER_SIGN_PKCS11_KEY")
    pin = settings.pkcs11_pin.get_secret_value() if settings.pkcs11_pin else None
    return SignerConfig(kind="pkcs11", pkcs11_module=module, token_label=settings.pkcs11_token, key_label=key,
                        cert_label=settings.pkcs11_cert or key, pin=pin, **common)


NO_KEY = ("no signing key is configured (DOSSIER_SIGN_PKCS12, or DOSSIER_SIGN_PKCS11_MODULE with its token and "
          "key); the generated development key is used only when asked for (dossier process --development-key, or "
          "DOSSIER_DEVELOPMENT_KEY=1: the demo and tests)")


def require_signer(settings: SigningSettings, enabled: bool = True) -> None:
    """Refuse work that must sign (``enabled``) when no key is configured (outside the demo) or the configured one
    cannot be opened now: SigningKeyError, the machine's fault."""
    if not enabled:
        return
    config = signer_from_settings(settings)
    if config is None:
        if not settings.development_key:
            raise SigningKeyError(NO_KEY)
        return
    check_signer(config)


def check_signer(config: SignerConfig) -> None:
    """Whether the key can be used now, in milliseconds and without a token session: the PKCS#12 file opens with
    its passphrase, or the PKCS#11 module is there. SigningKeyError naming the file otherwise."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    if config.kind == "pkcs11":
        if not config.pkcs11_module or not Path(config.pkcs11_module).is_file():
            raise SigningKeyError(f"PKCS#11 module {config.pkcs11_module} not found")
        return
    path = config.pkcs12_path
    try:
        data = Path(path).read_bytes() if path else b""
        pkcs12.load_key_and_certificates(data, config.passphrase.encode() if config.passphrase else None)
    except FileNotFoundError:
        raise SigningKeyError(f"PKCS#12 file {path} not found") from None
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot open PKCS#12 file {path}: {exc}") from None


def make_self_signed(common_name: str, organisation: str, days: int = 825, key_size: int = 2048):
    """A fresh RSA key and a self-signed signing certificate (digitalSignature + nonRepudiation)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    now = utcnow()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def ensure_development_signer(state_dir: Path) -> SignerConfig:
    """The demo's development signer: made on first use (RSA key, self-signed certificate marked DEVELOPMENT KEY —
    NOT FOR PRODUCTION, PKCS#12 and passphrase files mode 0600 in ``state_dir``), reused afterwards."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    state_dir.mkdir(parents=True, exist_ok=True)
    p12_path, pass_path, cert_path = state_dir / DEV_P12, state_dir / DEV_PASS, state_dir / DEV_CERT
    if p12_path.exists() and pass_path.exists():
        passphrase = pass_path.read_text(encoding="ascii").strip()
        try:
            _, cert, _ = pkcs12.load_key_and_certificates(p12_path.read_bytes(), passphrase.encode())
        except ValueError as exc:
            raise VolumeError(f"development signer {p12_path} cannot be opened: {exc}") from exc
        if cert is not None and cert.not_valid_after_utc > utcnow() + timedelta(days=1):
            if not cert_path.exists():
                cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            return SignerConfig(kind="pkcs12", pkcs12_path=p12_path, passphrase=passphrase, development=True)
        log.warning("development signer certificate in %s expired; making a new one", state_dir)
    key, cert = make_self_signed(DEV_SUBJECT_CN, "scan-to-dossier (development only)")
    passphrase = secrets.token_urlsafe(24)
    data = pkcs12.serialize_key_and_certificates(
        b"scan-to-dossier development signer", key, cert, None,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    write_private(pass_path, passphrase.encode("ascii"))
    write_private(p12_path, data)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert isinstance(cert, x509.Certificate)
    # asked for (--development-key, the demo): said, not warned about; the certificate and the manifest are marked
    log.info("made a DEVELOPMENT signing key in %s: not for production", state_dir)
    return SignerConfig(kind="pkcs12", pkcs12_path=p12_path, passphrase=passphrase, development=True)


def development_certificate(state_dir: Path) -> Path:
    """Path of the development signer's certificate (PEM), to use as a trust root in the demo."""
    return state_dir / DEV_CERT

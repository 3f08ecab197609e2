"""PAdES signing that keeps PDF/A: PKCS#12 and PKCS#11 (SoftHSM2) keys, B-B and B-T, visible and invisible."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from archival_fixtures import ScanSpec, build_volume

from pipeline.archival import (
    ArchivalMetadata,
    SignerConfig,
    development_certificate,
    ensure_development_signer,
    finish_pdfa,
    read_xmp,
    sign_pdf,
    signer_from_settings,
    validate_signature,
)
from pipeline.archival._signer import DEV_MARKER, make_self_signed
from pipeline.archival._validators import pdfa_check, preflight_pdfa1b, qpdf_check
from pipeline.errors import SigningKeyError, VolumeError
from pipeline.settings import SigningSettings

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


def _meta(volume: int = 1) -> ArchivalMetadata:
    return ArchivalMetadata(title=f"（2024）豫0727刑初172号 第{volume}卷", author="封丘县人民法院", subject="刑事诉讼卷宗",
                            case_no="（2024）豫0727刑初172号", volume=volume, volumes=1, standard_id="DA/T 31-2017",
                            standard_version="1.0.0", pipeline_version="0.1.0", page_hash_root="ab" * 32,
                            created=datetime(2024, 5, 1, 10, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sign")


@pytest.fixture(scope="module")
def volumes(work) -> dict[str, Path]:
    raw = build_volume(work / "raw.pdf", [ScanSpec("indictment", "bitonal", ("人民法院",)),
                                          ScanSpec("photo", "colour", ())]).path
    out = {}
    for level in ("1b", "2b"):
        out[level] = work / f"finished-{level}.pdf"
        finish_pdfa(raw, out[level], level, _meta())
    return out


@pytest.fixture(scope="module")
def state(work) -> Path:
    return work / "state"


@pytest.fixture(scope="module")
def dev_signer(state) -> SignerConfig:
    return ensure_development_signer(state)


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tsa(work):
    """pyHanko's in-process RFC 3161 timestamper with its own TSA certificate (written as a trust root)."""
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scan-to-dossier test TSA")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(key, hashes.SHA256()))
    root = work / "tsa.pem"
    root.write_bytes(_pem(cert))
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption())),
    )
    return stamper, root


@pytest.fixture(scope="module")
def other_signer(work) -> SignerConfig:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    key, cert = make_self_signed("someone else", "not trusted")
    path = work / "other.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"o", key, cert, None, serialization.NoEncryption()))
    return SignerConfig(kind="pkcs12", pkcs12_path=path)


# ------------------------------------------------------------------------------------------------------------------


def test_development_signer_is_marked_private_and_reused(state, dev_signer):
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(development_certificate(state).read_bytes())
    assert DEV_MARKER in cert.subject.rfc4514_string() and "NOT FOR PRODUCTION" in cert.subject.rfc4514_string()
    for path in (dev_signer.pkcs12_path, state / "development-signer.pass"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ensure_development_signer(state)
    assert again.pkcs12_path == dev_signer.pkcs12_path and again.passphrase == dev_signer.passphrase
    assert again.development


@pytest.mark.slow  # PDFBox preflight and validation of four signed volumes: 14-24 s each at load 20
@pytest.mark.parametrize("visible,timestamped", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["B-B-invisible", "B-B-visible", "B-T-invisible", "B-T-visible"])
def test_signed_1b_volume_still_passes_preflight_and_validates(volumes, dev_signer, state, tsa, work, visible,
                                                              timestamped):
    stamper, tsa_root = tsa
    config = SignerConfig(kind="pkcs12", pkcs12_path=dev_signer.pkcs12_path, passphrase=dev_signer.passphrase,
                          visible=visible, timestamper=stamper if timestamped else None, development=True)
    dst = work / f"signed-{visible}-{timestamped}.pdf"
    info = sign_pdf(volumes["1b"], dst, config, "volume 1")
    assert info.level == ("B-T" if timestamped else "B-B") and info.development_key

    check = validate_signature(dst, [development_certificate(state), tsa_root])
    assert check.passed, check.errors
    assert check.pades_level == info.level and check.coverage == "ENTIRE_FILE"
    assert check.certificate_sha256 == info.certificate_sha256
    if timestamped:
        assert check.timestamp_valid and check.timestamp_trusted
    result = preflight_pdfa1b(dst)
    assert result.valid, result.summary(20)
    assert qpdf_check(dst).valid


def test_signing_is_an_incremental_update_that_keeps_xmp_and_version(volumes, dev_signer, work):
    dst = work / "incremental.pdf"
    sign_pdf(volumes["1b"], dst, dev_signer, "volume 1")
    original = volumes["1b"].read_bytes()
    assert dst.read_bytes().startswith(original)
    with pikepdf.open(volumes["1b"]) as before, pikepdf.open(dst) as after:
        assert after.Root.Metadata.read_bytes() == before.Root.Metadata.read_bytes()
        assert "/Version" not in after.Root and "/Extensions" not in after.Root
        assert str(after.docinfo.ModDate) == str(before.docinfo.ModDate)
        widget = after.Root.AcroForm.Fields[0]
        assert int(widget.F) & 4 and isinstance(widget.AP.N, pikepdf.Stream)
        assert str(widget.V.Reason) == "电子卷宗制作" and str(widget.V.SubFilter) == "/ETSI.CAdES.detached"


def test_signed_2b_volume_passes_the_pikepdf_checker(volumes, dev_signer, work):
    dst = work / "signed-2b.pdf"
    config = SignerConfig(kind="pkcs12", pkcs12_path=dev_signer.pkcs12_path, passphrase=dev_signer.passphrase,
                          visible=True)
    sign_pdf(volumes["2b"], dst, config, "volume 1")
    result = pdfa_check(dst, "2b")
    assert result.valid, result.summary(20)
    with pikepdf.open(dst) as pdf:
        assert read_xmp(pdf)["pdfaid:part"] == "2"


def test_bytes_appended_after_eof_give_entire_revision_and_fail(volumes, dev_signer, state, work):
    dst = work / "appended.pdf"
    sign_pdf(volumes["1b"], dst, dev_signer, "volume 1")
    with dst.open("ab") as fh:
        fh.write(b"\n% appended\n")
    check = validate_signature(dst, [development_certificate(state)])
    assert check.intact and check.valid
    assert check.coverage == "ENTIRE_REVISION" and not check.passed
    assert any("ENTIRE_FILE" in e for e in check.errors)


def test_corrupted_signature_contents_is_a_failure_not_a_crash(volumes, dev_signer, state, work):
    dst = work / "corrupt.pdf"
    sign_pdf(volumes["1b"], dst, dev_signer, "volume 1")
    data = bytearray(dst.read_bytes())
    at = data.rindex(b"/Contents <") + len(b"/Contents <") + 40
    data[at:at + 8] = b"00000000" if data[at:at + 8] != b"00000000" else b"ffffffff"
    dst.write_bytes(bytes(data))
    check = validate_signature(dst, [development_certificate(state)])
    assert not check.passed and check.errors


def test_signer_outside_the_trust_roots_is_not_trusted(volumes, other_signer, state, work):
    dst = work / "other.pdf"
    sign_pdf(volumes["1b"], dst, other_signer, "volume 1")
    check = validate_signature(dst, [development_certificate(state)])
    assert check.intact and check.valid and not check.trusted and not check.passed
    assert "someone else" in check.signer


def test_signing_an_already_signed_volume_is_a_clear_error(volumes, dev_signer, work):
    once = work / "once.pdf"
    sign_pdf(volumes["1b"], once, dev_signer, "volume 1")
    with pytest.raises(VolumeError, match="volume 1: signing failed"):
        sign_pdf(once, work / "twice.pdf", dev_signer, "volume 1")


def test_unsigned_file_has_no_signature(volumes):
    check = validate_signature(volumes["1b"], None)
    assert not check.present and check.errors == ["no signature"]


def test_wrong_pkcs12_passphrase_is_a_clear_error(volumes, dev_signer, work):
    bad = SignerConfig(kind="pkcs12", pkcs12_path=dev_signer.pkcs12_path, passphrase="wrong")
    with pytest.raises(SigningKeyError, match="PKCS#12"):  # the key's fault (the run is held), not the volume's
        sign_pdf(volumes["1b"], work / "x.pdf", bad, "volume 1")


def test_unanswering_timestamp_authority_times_out_with_the_volume_named(volumes, dev_signer, work):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/tsa"
        config = SignerConfig(kind="pkcs12", pkcs12_path=dev_signer.pkcs12_path, passphrase=dev_signer.passphrase,
                              tsa_url=url, timeout=2.0)
        started = time.monotonic()
        with pytest.raises(VolumeError, match="volume 7"):
            sign_pdf(volumes["1b"], work / "tsa.pdf", config, "volume 7")
        assert time.monotonic() - started < 90  # bounded (without the timeout it waits for ever), loaded or not


def test_signer_config_comes_from_the_environment(tmp_path):
    assert signer_from_settings(SigningSettings.from_environ({})) is None
    p12 = signer_from_settings(SigningSettings.from_environ({"DOSSIER_SIGN_PKCS12": "/k.p12", "DOSSIER_SIGN_PASSWORD": "pw",
                           "DOSSIER_TSA_URL": "http://tsa", "DOSSIER_SIGN_VISIBLE": "true"}))
    assert (p12.kind, p12.pkcs12_path, p12.passphrase, p12.pades_level, p12.visible) == \
        ("pkcs12", Path("/k.p12"), "pw", "B-T", True)
    p11 = signer_from_settings(SigningSettings.from_environ({"DOSSIER_SIGN_PKCS11_MODULE": str(SOFTHSM), "DOSSIER_SIGN_PKCS11_TOKEN": "t",
                           "DOSSIER_SIGN_PKCS11_KEY": "k", "DOSSIER_SIGN_PKCS11_PIN": "1"}))
    assert (p11.kind, p11.token_label, p11.key_label, p11.cert_label, p11.pades_level) == \
        ("pkcs11", "t", "k", "k", "B-B")
    with pytest.raises(VolumeError, match="choose one"):
        signer_from_settings(SigningSettings.from_environ({"DOSSIER_SIGN_PKCS12": "/k.p12", "DOSSIER_SIGN_PKCS11_MODULE": "/m.so"}))


def test_profile_fills_reason_location_and_visibility_and_demands_a_tsa_for_b_t():
    from pipeline.models import SigningPolicy

    config = signer_from_settings(SigningSettings.from_environ({"DOSSIER_SIGN_PKCS12": "/k.p12"}))
    merged = config.with_policy(SigningPolicy(reason="卷宗归档", location="封丘县", visible=True))
    assert (merged.reason, merged.location, merged.visible) == ("卷宗归档", "封丘县", True)
    with pytest.raises(VolumeError, match="DOSSIER_TSA_URL"):
        config.with_policy(SigningPolicy(pades_level="B-T"))


# ------------------------------------------------------------------------------------------------------------------
# PKCS#11 with a SoftHSM2 token initialised here


@pytest.fixture(scope="module")
def softhsm_token(work):
    """A fresh SoftHSM2 token holding an RSA key (imported) and its certificate (created as a token object)."""
    import pkcs11
    from cryptography.hazmat.primitives import serialization
    from pkcs11.util.x509 import decode_x509_certificate

    if not SOFTHSM.exists():
        pytest.skip("softhsm2 is not installed")
    tokens = work / "tokens"
    tokens.mkdir()
    conf = work / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    env = {**os.environ}
    run = dict(env=env, check=True, capture_output=True, timeout=60)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "dossier-test", "--so-pin", "5678",
                    "--pin", "1234"], **run)
    key, cert = make_self_signed("scan-to-dossier token signer", "test agency")
    pem = work / "token-key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    subprocess.run(["softhsm2-util", "--import", str(pem), "--token", "dossier-test", "--label", "signer",
                    "--id", "01", "--pin", "1234"], **run)
    pem.unlink()
    der = cert.public_bytes(serialization.Encoding.DER)
    token = pkcs11.lib(str(SOFTHSM)).get_token(token_label="dossier-test")
    with token.open(rw=True, user_pin="1234") as session:
        attrs = decode_x509_certificate(der)
        attrs.update({pkcs11.Attribute.TOKEN: True, pkcs11.Attribute.LABEL: "signer", pkcs11.Attribute.ID: b"\x01"})
        session.create_object(attrs)
    root = work / "token-cert.pem"
    root.write_bytes(_pem(cert))
    yield SignerConfig(kind="pkcs11", pkcs11_module=SOFTHSM, token_label="dossier-test", key_label="signer",
                       pin="1234", visible=True), root
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def test_pkcs11_token_signs_end_to_end(volumes, softhsm_token, work):
    config, root = softhsm_token
    dst = work / "pkcs11.pdf"
    info = sign_pdf(volumes["1b"], dst, config, "volume 1")
    assert "scan-to-dossier token signer" in info.signer and not info.development_key
    check = validate_signature(dst, [root])
    assert check.passed, check.errors
    assert check.certificate_sha256 == info.certificate_sha256


def test_pkcs11_wrong_pin_is_a_clear_error(volumes, softhsm_token, work):
    config, _ = softhsm_token
    bad = SignerConfig(kind="pkcs11", pkcs11_module=SOFTHSM, token_label="dossier-test", key_label="signer",
                       pin="0000")
    with pytest.raises(SigningKeyError, match="dossier-test"):
        sign_pdf(volumes["1b"], work / "x.pdf", bad, "volume 1")

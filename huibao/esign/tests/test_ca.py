from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from cryptography import x509
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from huibao.esign.ca import ROOT_CN, SIGNING_CN, ensure_platform_ca


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_is_created_once_and_reused(var_dir):
    # given a fresh VAR_DIR
    # when the CA is ensured twice
    first = ensure_platform_ca()
    second = ensure_platform_ca()
    # then the second call reuses the same root and signing certificate
    assert first.directory == var_dir / "ca"
    assert second.root_fingerprint == first.root_fingerprint
    assert second.signing_fingerprint == first.signing_fingerprint


def test_ca_files_are_private(var_dir):
    # when
    ca = ensure_platform_ca()
    # then the directory is 0700 and every key (and certificate) 0600
    assert _mode(ca.directory) == 0o700
    for name in ("root.key.pem", "signing.key.pem", "root.crt.pem", "signing.crt.pem"):
        assert _mode(ca.directory / name) == 0o600, name
    assert not list(ca.directory.glob("*.tmp"))


def test_certificates_have_the_required_profile(var_dir):
    # when
    ca = ensure_platform_ca()
    root, signing = ca.root_cert, ca.signing_cert
    # then the root is a self-signed CA limited to certificate and CRL signing, for 10 years
    assert root.subject.rfc4514_string() == f"O=Huibao,CN={ROOT_CN}"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    root_usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert root_usage.key_cert_sign and root_usage.crl_sign and not root_usage.digital_signature
    root.verify_directly_issued_by(root)
    assert root.not_valid_after_utc - root.not_valid_before_utc >= dt.timedelta(days=3650)
    # and the signing certificate is issued by it for digitalSignature + nonRepudiation, 3 years
    signing.verify_directly_issued_by(root)
    assert signing.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == SIGNING_CN
    assert signing.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = signing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    lifetime = signing.not_valid_after_utc - signing.not_valid_before_utc
    assert dt.timedelta(days=3 * 365) <= lifetime <= dt.timedelta(days=3 * 366 + 1)


def test_lost_signing_certificate_is_reissued_by_the_same_root(var_dir):
    # given an existing CA whose signing certificate was deleted
    first = ensure_platform_ca()
    (first.directory / "signing.crt.pem").unlink()
    # when
    second = ensure_platform_ca()
    # then the root stays and a new signing certificate chains to it
    assert second.root_fingerprint == first.root_fingerprint
    assert second.signing_fingerprint != first.signing_fingerprint
    second.signing_cert.verify_directly_issued_by(first.root_cert)


def test_keys_are_encrypted_with_the_configured_passphrase(var_dir, settings):
    # given a passphrase in settings
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = "correct horse battery staple"
    # when
    ca = ensure_platform_ca()
    # then both keys are stored encrypted
    for name in ("root.key.pem", "signing.key.pem"):
        assert (ca.directory / name).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # and a wrong passphrase is refused at set-up, naming the setting
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = "wrong"
    with pytest.raises(ImproperlyConfigured, match="HUIBAO_SIGNING_KEY_PASSPHRASE"):
        ensure_platform_ca()


def test_explicit_directory_is_used(tmp_path, var_dir):
    # when
    ca = ensure_platform_ca(tmp_path / "elsewhere")
    # then nothing is created under VAR_DIR
    assert (tmp_path / "elsewhere" / "root.crt.pem").exists()
    assert ca.directory == tmp_path / "elsewhere"
    assert not (var_dir / "ca").exists()


def test_setup_ca_command_prints_fingerprints(var_dir):
    # given
    out = io.StringIO()
    # when
    call_command("setup_ca", stdout=out)
    # then it prints the fingerprints of the CA it created (and would reuse)
    ca = ensure_platform_ca()
    assert ca.root_fingerprint in out.getvalue()
    assert ca.signing_fingerprint in out.getvalue()

"""The platform's own certificate authority for signing e-policies and other documents.

`ensure_platform_ca()` creates, once, under `settings.VAR_DIR / "ca"` (mode 0700):

- `root.key.pem` / `root.crt.pem`: a self-signed EC P-256 root ("Huibao Platform Root CA", 10 years,
  basicConstraints CA, keyUsage keyCertSign + cRLSign);
- `signing.key.pem` / `signing.crt.pem`: the document-signing certificate it issues
  ("汇保电子保单签章" / "Huibao", 3 years, keyUsage digitalSignature + nonRepudiation).

Key files are 0600 and, when `HUIBAO_SIGNING_KEY_PASSPHRASE` is set, encrypted with it. Keys are
created on the machine and never live in the repository. Calling it again reuses what exists; a
missing signing certificate is issued again from the existing root. Concurrent callers are
serialised by an exclusive lock on `ca/.lock`, and every file is written to a temporary name and
renamed, so no process ever reads half a key.

EC P-256 rather than RSA: a signature costs ~0.1 ms instead of ~3 ms, and both pyHanko and
poppler's `pdfsig` (NSS) validate ECDSA.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ROOT_CN = "Huibao Platform Root CA"
SIGNING_CN = "汇保电子保单签章"
ORGANISATION = "Huibao"
ROOT_VALIDITY = dt.timedelta(days=3652)  # 10 years
SIGNING_VALIDITY = dt.timedelta(days=1096)  # 3 years
# Certificates start a little in the past so a verifier whose clock lags still accepts them.
CLOCK_SKEW = dt.timedelta(hours=1)

ROOT_KEY = "root.key.pem"
ROOT_CERT = "root.crt.pem"
SIGNING_KEY = "signing.key.pem"
SIGNING_CERT = "signing.crt.pem"


@dataclass(frozen=True)
class PlatformCA:
    directory: Path
    root_cert: x509.Certificate
    signing_cert: x509.Certificate

    @property
    def root_cert_path(self) -> Path:
        return self.directory / ROOT_CERT

    @property
    def signing_cert_path(self) -> Path:
        return self.directory / SIGNING_CERT

    @property
    def signing_key_path(self) -> Path:
        return self.directory / SIGNING_KEY

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root_cert)

    @property
    def signing_fingerprint(self) -> str:
        return fingerprint(self.signing_cert)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex (the form browsers and openssl show)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def platform_root_certificate() -> x509.Certificate:
    """The root as published to relying parties (the verification page's download); made with the
    CA on first use, as signing would."""
    path = ca_directory() / ROOT_CERT
    if not path.exists():
        return ensure_platform_ca().root_cert
    return x509.load_pem_x509_certificate(path.read_bytes())


def ca_directory() -> Path:
    return Path(settings.VAR_DIR) / "ca"


def signing_key_passphrase() -> bytes | None:
    passphrase: str = getattr(settings, "HUIBAO_SIGNING_KEY_PASSPHRASE", "") or ""
    return passphrase.encode() if passphrase else None


def ensure_platform_ca(directory: Path | None = None) -> PlatformCA:
    """Create the root CA and the document-signing certificate if absent; return them (idempotent)."""
    directory = Path(directory) if directory is not None else ca_directory()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask and ignored if it existed
    passphrase = signing_key_passphrase()
    lock_fd = os.open(directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        now = dt.datetime.now(dt.UTC)
        if not (directory / ROOT_CERT).exists() or not (directory / ROOT_KEY).exists():
            root_key = ec.generate_private_key(ec.SECP256R1())
            root_cert = _issue_root(root_key, now)
            _write_private(directory / ROOT_KEY, _key_pem(root_key, passphrase))
            _write_private(directory / ROOT_CERT, root_cert.public_bytes(serialization.Encoding.PEM))
            # A new root invalidates any signing certificate issued by an older one.
            (directory / SIGNING_CERT).unlink(missing_ok=True)
        else:
            root_cert = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
            root_key = None
        if not (directory / SIGNING_CERT).exists() or not (directory / SIGNING_KEY).exists():
            if root_key is None:
                root_key = _load_key(directory / ROOT_KEY, passphrase)
            signing_key = ec.generate_private_key(ec.SECP256R1())
            signing_cert = _issue_signing(signing_key, root_key, root_cert, now)
            _write_private(directory / SIGNING_KEY, _key_pem(signing_key, passphrase))
            _write_private(directory / SIGNING_CERT, signing_cert.public_bytes(serialization.Encoding.PEM))
        else:
            signing_cert = x509.load_pem_x509_certificate((directory / SIGNING_CERT).read_bytes())
            # Fail here, at set-up, rather than at the first policy issue: wrong passphrase, or a key
            # that does not belong to the certificate.
            loaded = _load_key(directory / SIGNING_KEY, passphrase)
            if loaded.public_key() != signing_cert.public_key():
                raise ImproperlyConfigured(f"{directory / SIGNING_KEY} does not match {SIGNING_CERT}")
    finally:
        os.close(lock_fd)  # releases the lock
    return PlatformCA(directory=directory, root_cert=root_cert, signing_cert=signing_cert)


def _issue_root(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, ROOT_CN),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue_signing(
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, SIGNING_CN),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + SIGNING_VALIDITY, issuer_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _load_key(path: Path, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"HUIBAO_SIGNING_KEY_PASSPHRASE: cannot open {path.name} ({exc}); "
            "set the passphrase the key was created with"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"{path}: expected an EC private key")
    return key


def _write_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600, atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)

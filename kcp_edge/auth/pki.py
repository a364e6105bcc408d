"""The server's TLS certificates: a small CA of its own and a serving certificate it signs.

Why this module exists: kubectl sends credentials only over TLS, and a client should verify the
server rather than skip verification. So ``kcp start`` makes a CA (ECDSA P-256, 10 years, CN
``kcp-edge-ca``) once, and a serving certificate from it (ECDSA P-256, 1 year) whose SANs cover
every name clients use: localhost, 127.0.0.1, ::1, a non-wildcard bind address, the host name and
``--external-hostname``. The CA goes into the admin kubeconfig as ``certificate-authority-data``.

On restart everything is reused. The serving certificate alone is re-issued, from the same CA,
when it lacks a name now required or expires within 30 days, so kubeconfigs handed out earlier
stay valid. Private keys are written with mode 0600, every file atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_COMMON_NAME = "kcp-edge-ca"
SERVING_COMMON_NAME = "kcp-edge-apiserver"
CA_LIFETIME = dt.timedelta(days=3650)
SERVING_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(hours=1)  # tolerate clients whose clock is a little behind

_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)

_IssuerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PkiError(Exception):
    """A certificate or key cannot be read, written or used; the message is for the user."""


@dataclass(frozen=True, kw_only=True)
class ServingCertificate:
    """What the server serves with, and what its clients should trust."""

    cert_file: Path
    key_file: Path
    ca_pem: bytes
    """PEM certificates a client should trust (the kubeconfig's certificate-authority-data)."""


def write_file_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` with ``mode`` so that readers see the old or the new file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            tmp.chmod(mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def is_wildcard_address(address: str) -> bool:
    """True for addresses that mean "every interface" (``0.0.0.0``, ``::``, empty)."""
    if not address:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_unspecified
    except ValueError:
        return False


def host_name(value: str) -> x509.GeneralName:
    """The SAN entry for a host given as an IP address (also ``[v6]``) or a DNS name."""
    bare = value.strip().strip("[]")
    try:
        return x509.IPAddress(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if not _DNS_NAME.match(bare.lower()):
        raise PkiError(f"{value!r} is neither an IP address nor a valid DNS name")
    return x509.DNSName(bare.lower())


def required_names(
    *, bind_address: str, external_hostname: str | None, hostname: str | None = None
) -> list[x509.GeneralName]:
    """Every name the serving certificate must carry, in a stable order, without duplicates."""
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    if not is_wildcard_address(bind_address):
        names.append(host_name(bind_address))
    local = socket.gethostname() if hostname is None else hostname
    with contextlib.suppress(PkiError):  # an odd host name is left out, not fatal
        if local:
            names.append(host_name(local))
    if external_hostname:
        names.append(host_name(external_hostname))
    return list(dict.fromkeys(names))


def ensure_serving_certificate(
    *, cert_dir: Path, names: list[x509.GeneralName], now: dt.datetime | None = None
) -> ServingCertificate:
    """Load or create ``ca.crt``/``ca.key`` and ``apiserver.crt``/``apiserver.key`` in cert_dir."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca_cert, ca_key = _load_or_create_ca(cert_dir, now)
        cert_file, key_file = cert_dir / "apiserver.crt", cert_dir / "apiserver.key"
        if not _serving_usable(cert_file, key_file, ca_cert, names, now):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _issue_serving(ca_cert, ca_key, key, names, now)
            write_file_atomically(key_file, _key_pem(key), mode=0o600)
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            write_file_atomically(cert_file, cert_pem, mode=0o644)
    except OSError as exc:
        raise PkiError(f"cannot write certificates in {cert_dir}: {exc}") from exc
    return ServingCertificate(
        cert_file=cert_file,
        key_file=key_file,
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
    )


def load_serving_certificate(*, cert_file: Path, key_file: Path) -> ServingCertificate:
    """Check a certificate and key given by the user; clients then trust the given chain."""
    try:
        certs = x509.load_pem_x509_certificates(cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read the TLS certificate {cert_file}: {exc}") from exc
    key = _read_key(key_file, what="TLS private key")
    if not _same_public_key(key, certs[0]):
        raise PkiError(f"the TLS private key {key_file} does not belong to {cert_file}")
    ca_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return ServingCertificate(cert_file=cert_file, key_file=key_file, ca_pem=ca_pem)


def _load_or_create_ca(cert_dir: Path, now: dt.datetime) -> tuple[x509.Certificate, _IssuerKey]:
    crt, key_file = cert_dir / "ca.crt", cert_dir / "ca.key"
    if not crt.exists():  # a ca.key without ca.crt was never handed to any client
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue_ca(key, now)
        write_file_atomically(key_file, _key_pem(key), mode=0o600)
        write_file_atomically(crt, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return cert, key
    recover = f"remove {crt} and {key_file} to make a new CA (clients must then trust the new one)"
    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read the CA certificate {crt}: {exc}; {recover}") from exc
    key_any = _read_key(key_file, what="CA key", hint=recover)
    if not isinstance(key_any, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise PkiError(f"the CA key {key_file} is neither ECDSA nor RSA; {recover}")
    if not _same_public_key(key_any, cert):
        raise PkiError(f"the CA key {key_file} does not belong to {crt}; {recover}")
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        raise PkiError(f"the CA certificate {crt} expires on {cert.not_valid_after_utc}; {recover}")
    return cert, key_any


def _serving_usable(
    cert_file: Path,
    key_file: Path,
    ca_cert: x509.Certificate,
    names: list[x509.GeneralName],
    now: dt.datetime,
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    if not _same_public_key(key, cert) or cert.not_valid_after_utc - now < RENEW_BEFORE:
        return False
    present = set(san)
    return all(name in present for name in names)


def _issue_ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue_serving(
    ca_cert: x509.Certificate,
    ca_key: _IssuerKey,
    key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    now: dt.datetime,
) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVING_COMMON_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + SERVING_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read_key(path: Path, *, what: str, hint: str = "") -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        suffix = f"; {hint}" if hint else ""
        raise PkiError(f"cannot read the {what} {path}: {exc}{suffix}") from exc


def _same_public_key(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)

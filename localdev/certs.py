"""A local certificate authority, a loopback server certificate and the trust bundle for its clients, made with
``cryptography`` (reuse, trust order, atomic writes: localdev/README.md, "Certificates")."""
from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "emulator-ca.pem"
CA_KEY_FILE = "emulator-ca-key.pem"
SERVER_CERT_FILE = "emulator-server.pem"
SERVER_KEY_FILE = "emulator-server-key.pem"
LOCK_FILE = ".emulator-certs.lock"

DEFAULT_IP_ADDRESSES = ("127.0.0.1", "::1")
DEFAULT_DNS_NAMES = ("localhost",)
CA_LIFETIME = dt.timedelta(days=3650)
SERVER_LIFETIME = dt.timedelta(days=397)  # under the 398-day ceiling clients apply to leaf certificates
MIN_REMAINING = dt.timedelta(days=7)


@dataclass(frozen=True)
class CertPaths:
    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _paths(directory: Path) -> CertPaths:
    return CertPaths(
        directory=directory,
        ca_cert=directory / CA_CERT_FILE,
        ca_key=directory / CA_KEY_FILE,
        server_cert=directory / SERVER_CERT_FILE,
        server_key=directory / SERVER_KEY_FILE,
    )


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic replaces only
        yield
        return
    with open(directory / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def _not_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


def _public_bytes(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _existing_valid(paths: CertPaths, ips: tuple[str, ...], dns: tuple[str, ...], min_remaining: dt.timedelta) -> bool:
    """True when every file exists and the set is coherent and not about to expire."""
    try:
        ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        server_key = serialization.load_pem_private_key(paths.server_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    now = _utcnow()
    for cert in (ca, server):
        if _not_before(cert) > now or _not_after(cert) - now < min_remaining:
            return False
    if _public_bytes(ca_key.public_key()) != _public_bytes(ca.public_key()):
        return False
    if _public_bytes(server_key.public_key()) != _public_bytes(server.public_key()):
        return False
    try:
        server.verify_directly_issued_by(ca)
        basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # noqa: BLE001 - wrong issuer, missing extension, bad signature: regenerate
        return False
    if not basic.ca:
        return False
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    have_dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    wanted_ips = {str(ipaddress.ip_address(ip)) for ip in ips}
    return wanted_ips <= have_ips and {name.lower() for name in dns} <= have_dns


def _generate(paths: CertPaths, ips: tuple[str, ...], dns: tuple[str, ...]) -> None:
    now = _utcnow() - dt.timedelta(minutes=5)  # tolerate small clock differences between processes
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Teams Meeting Broker local development"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Teams Meeting Broker local CA"),
    ])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    )
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else ips[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def key_pem(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    # Keys first, certificates last: a reader that sees the new CA certificate also sees its key.
    _write_atomic(paths.ca_key, key_pem(ca_key), 0o600)
    _write_atomic(paths.server_key, key_pem(server_key), 0o600)
    _write_atomic(paths.server_cert, server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_atomic(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)


def ensure_certs(
    directory: Path | str,
    *,
    ip_addresses: tuple[str, ...] = DEFAULT_IP_ADDRESSES,
    dns_names: tuple[str, ...] = DEFAULT_DNS_NAMES,
    min_remaining: dt.timedelta = MIN_REMAINING,
) -> CertPaths:
    """Create (or reuse) the local CA and the loopback server certificate in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = _paths(directory)
    ips, dns = tuple(ip_addresses), tuple(dns_names)
    with _locked(directory):
        if not _existing_valid(paths, ips, dns, min_remaining):
            _generate(paths, ips, dns)
    return paths


TRUST_BUNDLE_FILE = "ca-bundle.pem"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)


class TrustBundleError(RuntimeError):
    """The environment names a CA bundle that cannot be read: requests could not verify anything with it either."""


def environment_bundle(environ: Mapping[str, str] | None = None) -> Path:
    """The CA bundle ``requests`` verifies with in this environment: ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``,
    else its default (certifi's)."""
    environ = os.environ if environ is None else environ
    named = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if named:
        return Path(named)
    import certifi

    return Path(certifi.where())


def _pem_certificates(source: Path) -> bytes:
    """The PEM certificates of a bundle file, or of every file in a directory (requests accepts both)."""
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    blocks: list[bytes] = []
    for path in files:
        blocks.extend(_PEM_BLOCK.findall(path.read_bytes()))
    return b"".join(block.replace(b"\r\n", b"\n") + b"\n" for block in blocks)


def trust_bundle(ca_cert: Path | str, target: Path | str, environ: Mapping[str, str] | None = None) -> Path:
    """Write ``target``: the environment's CA bundle (``environment_bundle``) first, then ``ca_cert`` (left out when
    the environment's bundle has it already, e.g. a bundle this function wrote). Returns ``target``."""
    source, target = environment_bundle(environ), Path(target)
    try:
        trusted = _pem_certificates(source)
    except OSError as exc:
        raise TrustBundleError(f"the CA bundle the environment names ({source}) cannot be read: {exc.strerror}") from None
    extra = _pem_certificates(Path(ca_cert))
    if not extra:
        raise TrustBundleError(f"{ca_cert} holds no PEM certificate")
    if extra not in trusted:
        trusted += extra
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, trusted, 0o644)
    return target


def server_ssl_context(paths: CertPaths):
    """A TLS 1.2+ server context for the loopback certificate."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(paths.server_cert), keyfile=str(paths.server_key))
    return context


__all__ = ["CertPaths", "TrustBundleError", "ensure_certs", "environment_bundle", "server_ssl_context", "trust_bundle"]

"""Small helpers shared by test modules: an injectable clock and a throwaway certificate."""
from __future__ import annotations

import datetime as dt
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


class Clock:
    """Injectable clock (epoch seconds): frozen at real time when reset, moved by advance()."""

    def __init__(self) -> None:
        self.value = time.time()

    def __call__(self) -> float:
        return self.value

    def reset(self) -> None:
        self.value = time.time()

    def advance(self, seconds: float) -> None:
        self.value += seconds


def self_signed_certificate(days: int = 2) -> tuple[str, str, str]:
    """A new RSA key and self-signed certificate: (key PEM, certificate PEM, SHA-1 thumbprint in hex)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meeting-broker-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, cert_pem, cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - x5t is SHA-1

"""Trial certificates and a secret for a federation on one machine or a test network.

:func:`make_trial_credentials` writes a self-signed CA, a server certificate for the given
host names / IP addresses signed by it, the server's private key and a random shared secret,
plus a ``federated.yaml`` pointing at them. For a real federation the hospitals' PKI issues
the certificates (docs/scale-out.md shows the ``openssl`` commands); keys and secrets are
never committed: they are written with mode 0600.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from oncofusion.errors import ConfigError

__all__ = ["make_trial_credentials"]


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_trial_credentials(out: str | Path, hosts: Sequence[str] = ("127.0.0.1", "localhost"), *, days: int = 30,
                           overwrite: bool = False) -> dict[str, Path]:
    """Write ``ca.pem``, ``server.pem``, ``server.key``, ``federation.secret`` and ``federated.yaml``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = Path(out)
    names = ("ca.pem", "server.pem", "server.key", "federation.secret", "federated.yaml")
    if not overwrite and any((out / n).exists() for n in names):
        raise ConfigError(f"'{out}' already holds credentials. Fix: choose another --out or pass --overwrite.")
    out.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.UTC)

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, signer: ec.EllipticCurvePrivateKey,
             *, ca: bool, san: list[x509.GeneralName] | None = None) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
             .not_valid_after(now + _dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("oncofusion trial federation CA", ca_key, None, ca_key, ca=True)
    san: list[x509.GeneralName] = []
    for h in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            san.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    server = cert(hosts[0], key, ca.subject, ca_key, ca=False, san=san)
    pem = serialization.Encoding.PEM
    _write(out / "ca.pem", ca.public_bytes(pem))
    _write(out / "server.pem", server.public_bytes(pem))
    _write(out / "server.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), private=True)
    _write(out / "federation.secret", secrets.token_hex(32).encode() + b"\n", private=True)
    _write(out / "federated.yaml", (
        b"# trial credentials made by 'oncofusion federated make-certs' (paths relative to this file)\n"
        b"tls:\n  ca_cert: ca.pem\n  server_cert: server.pem\n  server_key: server.key\n"
        b"auth:\n  secret_file: federation.secret\n"))
    return dict(zip(("ca_cert", "server_cert", "server_key", "secret_file", "config"), (out / n for n in names), strict=True))

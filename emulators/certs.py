"""Test certificate authority, server certificate and the demo application's client certificate.

Everything is created once with ``cryptography`` and kept as PEM files in ``<data-dir>/tls`` so
that the CA bundle path printed by ``serve`` stays valid across restarts:

* ``ca.pem`` - the test CA (the ``ca_bundle`` a client passes as ``verify=``);
* ``server.pem`` / ``server-key.pem`` - leaf for ``localhost``, ``127.0.0.1`` and ``::1``;
* ``client-cert.pem`` / ``client-key.pem`` - self-signed certificate registered on the demo
  Entra application for the certificate-assertion client credential (protocols.md A5).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOid, NameOID


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files of one data directory."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_tls(data_dir: Path) -> TlsFiles:
    """Create (once) and return the CA, server and client certificate files under ``data_dir/tls``."""
    tls = data_dir / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(tls / "ca.pem", tls / "server.pem", tls / "server-key.pem",
                     tls / "client-cert.pem", tls / "client-key.pem")
    if all(p.exists() for p in (files.ca, files.server_cert, files.server_key, files.client_cert, files.client_key)):
        return files
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "BC Sales portal emulators"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Emulator test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    srv_key = _key()
    srv_cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(srv_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOid.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
    cl_key = _key()
    cl_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BC Sales portal integration")])
    cl_cert = (x509.CertificateBuilder().subject_name(cl_name).issuer_name(cl_name)
               .public_key(cl_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=730))
               .sign(cl_key, hashes.SHA256()))
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(srv_cert.public_bytes(serialization.Encoding.PEM)
                                  + ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(_pem_key(srv_key))
    files.client_cert.write_bytes(cl_cert.public_bytes(serialization.Encoding.PEM))
    files.client_key.write_bytes(_pem_key(cl_key))
    for p in (files.server_key, files.client_key):
        p.chmod(0o600)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """Server-side TLS context (TLS 1.2+) for the emulator listener."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(files.server_cert), str(files.server_key))
    return ctx


def certificate_thumbprints(pem: bytes) -> tuple[str, str]:
    """Return (SHA-1 hex, SHA-256 hex) thumbprints of a PEM certificate (upper-case hex, as Entra shows them)."""
    cert = x509.load_pem_x509_certificate(pem)
    return cert.fingerprint(hashes.SHA1()).hex().upper(), cert.fingerprint(hashes.SHA256()).hex().upper()  # noqa: S303

"""Test certificate authority, server certificate and the demo application's client certificate.

Everything is created with ``cryptography`` and kept as PEM files in ``<data-dir>/tls`` so that the
CA bundle path printed by ``serve`` stays valid across restarts.  The CA itself is shared by all
instances of the user (:func:`default_ca_dir`):

* ``ca.pem`` - copy of the test CA (the ``ca_bundle`` a client passes as ``verify=``);
* ``server.pem`` / ``server-key.pem`` - leaf for ``localhost``, ``127.0.0.1`` and ``::1``;
* ``client-cert.pem`` / ``client-key.pem`` - self-signed certificate registered on the demo
  Entra application for the certificate-assertion client credential (Microsoft Learn "Microsoft identity platform
  application authentication certificate credentials").
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


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


def default_ca_dir() -> Path:
    """Where the shared test CA lives: ``$EMULATORS_CA_DIR`` or ``~/.cache/bcportal-emulators``.

    One CA for every emulator instance of the user means one ``ca_bundle`` trusts them all - needed
    because msal's user-realm call goes to port 443, which only one instance can own."""
    env = os.environ.get("EMULATORS_CA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "bcportal-emulators"


def _load_or_create_ca(ca_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    ca_dir.mkdir(parents=True, exist_ok=True)
    cert_p, key_p = ca_dir / "ca.pem", ca_dir / "ca-key.pem"
    lock = ca_dir / ".lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if cert_p.exists() and key_p.exists():
            key = serialization.load_pem_private_key(key_p.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return x509.load_pem_x509_certificate(cert_p.read_bytes()), key
        now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
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
        tmp = key_p.with_suffix(".tmp")
        tmp.write_bytes(_pem_key(ca_key))
        tmp.chmod(0o600)
        os.replace(tmp, key_p)
        cert_p.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        return ca_cert, ca_key


def ensure_tls(data_dir: Path, ca_dir: Path | None = None) -> TlsFiles:
    """Return the CA copy, server and client certificate files under ``data_dir/tls``.

    The server certificate is (re)issued whenever it is missing or not signed by the shared CA of
    ``ca_dir`` (default :func:`default_ca_dir`); the client certificate is created once."""
    tls = data_dir / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(tls / "ca.pem", tls / "server.pem", tls / "server-key.pem",
                     tls / "client-cert.pem", tls / "client-key.pem")
    ca_cert, ca_key = _load_or_create_ca(ca_dir or default_ca_dir())
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    if not (files.ca.exists() and files.ca.read_bytes() == ca_pem and files.server_cert.exists()
            and files.server_key.exists()):
        srv_key = _key()
        srv_cert = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                    .issuer_name(ca_cert.subject).public_key(srv_key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now).not_valid_after(now + dt.timedelta(days=825))
                    .add_extension(x509.SubjectAlternativeName([
                        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                   critical=False)
                    .sign(ca_key, hashes.SHA256()))
        files.server_key.write_bytes(_pem_key(srv_key))
        files.server_key.chmod(0o600)
        files.server_cert.write_bytes(srv_cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        files.ca.write_bytes(ca_pem)
    if not (files.client_cert.exists() and files.client_key.exists()):
        cl_key = _key()
        cl_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BC Sales portal integration")])
        cl_cert = (x509.CertificateBuilder().subject_name(cl_name).issuer_name(cl_name)
                   .public_key(cl_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + dt.timedelta(days=730))
                   .sign(cl_key, hashes.SHA256()))
        files.client_key.write_bytes(_pem_key(cl_key))
        files.client_key.chmod(0o600)
        files.client_cert.write_bytes(cl_cert.public_bytes(serialization.Encoding.PEM))
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

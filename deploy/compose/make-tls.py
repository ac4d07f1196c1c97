"""The staging gateways' throw-away TLS (compose.yaml, profile staging), made once.

A CA, the gateways' server certificate (gateway-1, gateway-2, localhost, 127.0.0.1) and one client
certificate (CN airflow-worker, URI SAN spiffe://staging.local/airflow-worker) to try mutual TLS.
The CA's key goes to its own directory (its own volume), which no gateway mounts; the gateways'
directory gets ca.crt, server.crt, server.key, client.crt, client.key. Files that exist are kept, so
`docker compose up` again changes nothing; delete both volumes to start over. Files are 0440, owned
by uid 1000 (the gateway) and gid 0, like the staging keys (make-keys.mjs).

Runs in the apache/airflow image, whose Python has `cryptography` (Airflow's Fernet needs it):
    python make-tls.py [out_dir] [ca_dir]     (default /tls and /tls-ca)
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tls"
CA_DIR = sys.argv[2] if len(sys.argv) > 2 else "/tls-ca"
DAYS = 90


def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o440)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if os.getuid() == 0:
        os.chown(path, 1000, 0)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def load_or_make_ca():
    key_path, cert_path = os.path.join(CA_DIR, "ca.key"), os.path.join(CA_DIR, "ca.crt")
    if os.path.exists(key_path) and os.path.exists(cert_path):
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(cert_path, "rb") as f:
            return key, x509.load_pem_x509_certificate(f.read()), False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "secrets-gateway staging"), x509.NameAttribute(NameOID.COMMON_NAME, "staging throw-away CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    write(key_path, key_pem(key))
    write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, True


def leaf(ca_key, ca_cert, common_name, sans, usage):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "secrets-gateway staging"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def main():
    ca_key, ca_cert, made = load_or_make_ca()
    print(f"ca: {'created' if made else 'kept'}")
    if not os.path.exists(os.path.join(OUT, "ca.crt")):
        write(os.path.join(OUT, "ca.crt"), ca_cert.public_bytes(serialization.Encoding.PEM))
    pairs = {
        "server": ("gateway", [x509.DNSName("gateway-1"), x509.DNSName("gateway-2"), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], ExtendedKeyUsageOID.SERVER_AUTH),
        "client": ("airflow-worker", [x509.UniformResourceIdentifier("spiffe://staging.local/airflow-worker")], ExtendedKeyUsageOID.CLIENT_AUTH),
    }
    for name, (cn, sans, usage) in pairs.items():
        cert_path, key_path = os.path.join(OUT, f"{name}.crt"), os.path.join(OUT, f"{name}.key")
        if os.path.exists(cert_path) and os.path.exists(key_path):
            print(f"{name}: kept")
            continue
        key, cert = leaf(ca_key, ca_cert, cn, sans, usage)
        write(key_path, key_pem(key))
        write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        print(f"{name}: created")


if __name__ == "__main__":
    main()

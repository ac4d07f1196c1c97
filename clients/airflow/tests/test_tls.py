"""TLS kwargs: ca_bundle, client_cert, client_key, re-read when the files rotate (issue 18, point 4)."""

from __future__ import annotations

import shutil
import ssl

import pytest

from airflow_secrets_gateway import SecretsGatewayBackend, SecretsGatewayUnavailable

from conftest import LoopbackServer, Pki


def ok(path: str) -> tuple[int, dict]:
    return 200, {"key": "k", "value": "over TLS"}


def test_verified_with_the_ca_bundle_and_refused_without(tls_server: LoopbackServer, pki: Pki) -> None:
    tls_server.respond = ok
    assert SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(pki.ca), retries=0).get_variable("k") == "over TLS"
    with pytest.raises(SecretsGatewayUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        SecretsGatewayBackend(url=tls_server.url, retries=0).get_variable("k")  # the system's CAs do not know it
    assert SecretsGatewayBackend(url=tls_server.url, verify=False, retries=0).get_variable("k") == "over TLS"
    with pytest.raises(SecretsGatewayUnavailable, match="cannot read the TLS file .*nope.pem"):
        SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(pki.dir / "nope.pem"), retries=0).get_variable("k")
    with pytest.raises(ValueError, match="need an https"):
        SecretsGatewayBackend(url="http://127.0.0.1:1", ca_bundle=str(pki.ca))


def test_mutual_tls_with_a_client_certificate(tls_server: LoopbackServer, pki: Pki) -> None:
    tls_server.respond = ok
    assert tls_server.tls is not None
    tls_server.tls.verify_mode = ssl.CERT_REQUIRED
    cert, key = pki.mint("worker-1")
    b = SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(pki.ca), client_cert=str(cert), client_key=str(key), retries=0)
    assert b.get_variable("k") == "over TLS"
    assert tls_server.requests[-1].peer_cn == "worker-1"
    with pytest.raises(SecretsGatewayUnavailable, match="TLS|Connection|EOF"):
        SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(pki.ca), retries=0).get_variable("k")
    other_cert, other_key = pki.mint("intruder", ca="other-ca")
    with pytest.raises(SecretsGatewayUnavailable):
        SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(pki.ca), client_cert=str(other_cert), client_key=str(other_key), retries=0).get_variable("k")
    with pytest.raises(ValueError, match="client_key needs client_cert"):
        SecretsGatewayBackend(url=tls_server.url, client_key=str(key))


def test_rotated_files_reach_the_next_connection(tls_server: LoopbackServer, pki: Pki) -> None:
    tls_server.respond = ok
    assert tls_server.tls is not None
    tls_server.tls.verify_mode = ssl.CERT_REQUIRED
    cert_path, key_path = pki.dir / "client.crt", pki.dir / "client.key"
    first = pki.mint("worker-old")
    shutil.copy(first[0], cert_path)
    shutil.copy(first[1], key_path)
    # The CA bundle starts out wrong (another CA): refused, then right after the file is replaced.
    bundle = pki.dir / "bundle.pem"
    pki.mint("x", ca="wrong-ca")
    bundle.write_bytes(b"")
    shutil.copy(pki.dir / "x.crt", bundle)
    b = SecretsGatewayBackend(url=tls_server.url, ca_bundle=str(bundle), client_cert=str(cert_path), client_key=str(key_path), retries=0)
    with pytest.raises(SecretsGatewayUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        b.get_variable("k")
    shutil.copy(pki.ca, bundle)
    assert b.get_variable("k") == "over TLS"
    assert tls_server.requests[-1].peer_cn == "worker-old"
    # cert-manager renews the client certificate: the next connection presents the new one.
    second = pki.mint("worker-new")
    shutil.copy(second[0], cert_path)
    shutil.copy(second[1], key_path)
    tls_server.restart()
    assert b.get_variable("k") == "over TLS"
    assert tls_server.requests[-1].peer_cn == "worker-new"

"""A real HTTP(S) server on 127.0.0.1 whose answers each test scripts, and which records every request.

It can be restarted on the same port (every open connection is cut, as a gateway restart does) and
can serve TLS, optionally requiring a client certificate, with certificates minted by the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

import pytest


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    peer_cn: Optional[str] = None


Reply = tuple[int, Optional[dict]]


@dataclass
class LoopbackServer:
    url: str = ""
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    respond: Callable[[str], Reply] = lambda path: (404, {"code": "not_found"})
    respond_post: Callable[[str, bytes], Reply] = lambda path, body: (404, {"code": "route_not_found"})
    # PUT and DELETE: (method, path, body) -> reply; status 0 cuts the connection without an answer
    # (a gateway that died after it read the request).
    respond_write: Callable[[str, str, bytes], Reply] = lambda method, path, body: (404, {"code": "route_not_found"})
    delay_seconds: float = 0.0
    close_connections: bool = False
    tls: Optional[ssl.SSLContext] = None
    restart: Callable[[], None] = lambda: None
    stop: Callable[[], None] = lambda: None
    handshake_errors: list[str] = field(default_factory=list)


def _serve(state: LoopbackServer) -> None:
    lock = threading.Lock()
    open_sockets: set[socket.socket] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with lock:
                open_sockets.add(self.connection)

        def finish(self) -> None:
            with lock:
                open_sockets.discard(self.connection)
            super().finish()

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            peer_cn = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
            state.requests.append(Seen(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1], peer_cn))
            if state.delay_seconds:
                time.sleep(state.delay_seconds)
            if method in ("PUT", "DELETE"):
                status, reply = state.respond_write(method, self.path, body)
            else:
                status, reply = state.respond(self.path) if method == "GET" else state.respond_post(self.path, body)
            if status == 0:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            data = b"" if reply is None else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status < 300 else "application/problem+json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", f"req-{len(state.requests)}")
            if state.close_connections:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._answer("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._answer("DELETE")

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = self.socket.accept()
            if state.tls is not None:
                try:
                    sock.settimeout(5)  # the handshake runs on the accepting thread: a stalled client must not hang it
                    sock = state.tls.wrap_socket(sock, server_side=True)
                    sock.settimeout(None)
                except (ssl.SSLError, OSError) as e:
                    state.handshake_errors.append(type(e).__name__)
                    sock.close()
                    raise
            return sock, addr

        def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
            pass

    current: dict[str, object] = {}

    def start() -> None:
        httpd = Server(("127.0.0.1", state.port), Handler)
        state.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        current["httpd"] = httpd

    def stop() -> None:
        httpd = current.pop("httpd", None)
        if httpd is None:
            return
        httpd.shutdown()  # type: ignore[attr-defined]
        httpd.server_close()  # type: ignore[attr-defined]
        with lock:
            for sock in list(open_sockets):  # what a process exit does to its connections
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            open_sockets.clear()

    def restart() -> None:
        stop()
        start()

    start()
    state.restart, state.stop = restart, stop
    state.url = f"{'https' if state.tls else 'http'}://127.0.0.1:{state.port}"


@pytest.fixture()
def server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()
    _serve(state)
    try:
        yield state
    finally:
        state.stop()


# ---- TLS: a throw-away CA, a server certificate for 127.0.0.1, client certificates ----
@dataclass
class Pki:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    mint: Callable[..., tuple[Path, Path]]


@pytest.fixture()
def pki(tmp_path: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def make_ca(cn: str):  # type: ignore[no-untyped-def]
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    cas = {"test-ca": make_ca("test-ca")}

    def mint(cn: str, *, server: bool = False, ca: str = "test-ca", stem: Optional[str] = None) -> tuple[Path, Path]:
        if ca not in cas:
            cas[ca] = make_ca(ca)
        ca_key, ca_cert = cas[ca]
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        base = stem or cn
        cert_path, key_path = tmp_path / f"{base}.crt", tmp_path / f"{base}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return cert_path, key_path

    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(cas["test-ca"][1].public_bytes(serialization.Encoding.PEM))
    server_cert, server_key = mint("127.0.0.1", server=True)
    return Pki(tmp_path, ca_path, server_cert, server_key, mint)


@pytest.fixture()
def tls_server(pki: Pki) -> Iterator[LoopbackServer]:
    """The server over TLS; a test sets ``tls.verify_mode = ssl.CERT_REQUIRED`` to require a client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    state = LoopbackServer(tls=context)
    _serve(state)
    try:
        yield state
    finally:
        state.stop()

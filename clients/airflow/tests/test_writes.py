"""GatewayClient: the write API from Python (issue 17 point 5), against the recording loopback server.

What is sent (method, path, query, If-Match / If-None-Match, the body), what comes back (the version, the
expiry), the errors (loud, with the problem's code and the request id, never a value), and which failures
are retried: a write that may have reached the gateway is repeated only when repeating is safe.
"""

from __future__ import annotations

import datetime
import json
import logging
import ssl

import pytest

from airflow_secrets_gateway import (
    GatewayClient,
    SecretsGatewayAccessDenied,
    SecretsGatewayPreconditionFailed,
    SecretsGatewayUnavailable,
    SecretsGatewayWriteRefused,
)

from conftest import LoopbackServer, Pki

PASSWORD = "pw-never-in-a-message-5d1e"
EXPIRES = "2026-12-04T18:00:00.000Z"


def written(method: str, path: str, body: bytes) -> tuple[int, dict]:
    if method == "DELETE":
        return 200, {"key" if "/variables/" in path else "conn_id": "x", "backend": "overlay", "deleted": True, "fanout": "published"}
    return 201, {"conn_id": "x", "backend": "overlay", "version": "v-2", "created": True, "fanout": "published", "expires": EXPIRES}


def client(server: LoopbackServer, tmp_path, **kwargs) -> GatewayClient:
    token = tmp_path / "token"
    token.write_text("write-token\n")
    return GatewayClient(server.url, token_path=str(token), **kwargs)


def test_set_connection_from_an_airflow_connection_with_a_ttl(server: LoopbackServer, tmp_path) -> None:
    from airflow.models.connection import Connection

    server.respond_write = written
    conn = Connection(conn_id="team_a/scratch.db", conn_type="postgres", host="scratch.internal", login="etl",
                      password=PASSWORD, schema="dwh", port=6432, extra=json.dumps({"sslmode": "require"}))
    result = client(server, tmp_path).set_connection(conn, ttl=datetime.timedelta(hours=1))
    seen = server.requests[-1]
    assert (seen.method, seen.path) == ("PUT", "/v1/connections/team_a%2Fscratch%2Edb?ttl_seconds=3600")
    assert seen.headers["authorization"] == "Bearer write-token"
    assert seen.headers["content-type"] == "application/json"
    assert "if-match" not in seen.headers and "if-none-match" not in seen.headers
    assert json.loads(seen.body) == {"conn_type": "postgres", "host": "scratch.internal", "login": "etl", "password": PASSWORD,
                                     "schema": "dwh", "port": 6432, "extra": '{"sslmode": "require"}'}
    assert result.id == "team_a/scratch.db"
    assert (result.version, result.created, result.backend, result.fanout) == ("v-2", True, "overlay", "published")
    assert result.expires == datetime.datetime(2026, 12, 4, 18, 0, tzinfo=datetime.timezone.utc)


def test_set_connection_from_fields_or_a_uri_with_preconditions(server: LoopbackServer, tmp_path) -> None:
    server.respond_write = written
    c = client(server, tmp_path)
    c.set_connection("api", conn_type="http", host="api.internal", extra={"timeout": 5}, if_match="v-1")
    seen = server.requests[-1]
    assert seen.path == "/v1/connections/api"
    assert seen.headers["if-match"] == '"v-1"'
    assert json.loads(seen.body) == {"conn_type": "http", "host": "api.internal", "extra": {"timeout": 5}}
    c.set_connection("api", uri="http://api.internal:8080", if_match='"v-1"', allow_shadowed=True)
    assert server.requests[-1].headers["if-match"] == '"v-1"'  # an ETag as given
    assert server.requests[-1].path == "/v1/connections/api?allow_shadowed=true"
    assert json.loads(server.requests[-1].body) == {"uri": "http://api.internal:8080"}
    c.set_connection("api", conn_type="http", create_only=True)
    assert server.requests[-1].headers["if-none-match"] == "*"
    with pytest.raises(TypeError, match="unknown field"):
        c.set_connection("api", conn_type="http", hots="typo")
    with pytest.raises(ValueError, match="exclude each other"):
        c.set_connection("api", conn_type="http", create_only=True, if_match="v-1")
    for bad in (0, -5, 1.5, True, "60"):
        with pytest.raises(ValueError, match="ttl"):
            c.set_connection("api", conn_type="http", ttl=bad)
    with pytest.raises(ValueError, match="if_match"):
        c.set_connection("api", conn_type="http", if_match="a\r\nX-Evil: 1")
    assert len(server.requests) == 3, "nothing invalid was sent"


def test_variables_and_deletes(server: LoopbackServer, tmp_path) -> None:
    server.respond_write = written
    c = client(server, tmp_path)
    result = c.set_variable("team_a/flags", {"new_ui": True}, serialize_json=True, ttl=60)
    seen = server.requests[-1]
    assert (seen.method, seen.path) == ("PUT", "/v1/variables/team_a%2Fflags?ttl_seconds=60")
    assert json.loads(json.loads(seen.body)["value"]) == {"new_ui": True}
    assert result.version == "v-2"
    c.set_variable("plain", "on")
    assert json.loads(server.requests[-1].body) == {"value": "on"}
    with pytest.raises(TypeError, match="string"):
        c.set_variable("plain", 3)

    deleted = c.delete_connection("api", if_match="v-2")
    assert (server.requests[-1].method, server.requests[-1].path) == ("DELETE", "/v1/connections/api")
    assert server.requests[-1].headers["if-match"] == '"v-2"'
    assert deleted is not None and deleted.deleted and deleted.version is None
    assert c.delete_variable("a.b").deleted
    assert server.requests[-1].path == "/v1/variables/a%2Eb"

    server.respond_write = lambda method, path, body: (404, {"code": "not_found", "detail": "The writes target does not hold it."})
    assert c.delete_variable("gone", missing_ok=True) is None
    with pytest.raises(SecretsGatewayWriteRefused) as refused:
        c.delete_variable("gone")
    assert (refused.value.status, refused.value.code) == (404, "not_found")


def test_refusals_are_loud_and_name_the_code_never_a_value(server: LoopbackServer, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = client(server, tmp_path)
    server.respond_write = lambda m, p, b: (412, {"code": "precondition_failed", "detail": "The connection has changed since that version (If-Match).", "current_version": "v-9"})
    with pytest.raises(SecretsGatewayPreconditionFailed) as stale:
        c.set_connection("db", conn_type="postgres", password=PASSWORD, if_match="v-1")
    assert stale.value.current_version == "v-9"
    assert "HTTP 412 precondition_failed" in str(stale.value) and "request req-" in str(stale.value)
    assert len(server.requests) == 1, "a refusal is not retried"

    server.respond_write = lambda m, p, b: (409, {"code": "shadowed", "detail": '"env" comes before "overlay" in the chain and holds this connection.', "backend": "env"})
    with pytest.raises(SecretsGatewayWriteRefused) as shadowed:
        c.set_connection("db", conn_type="postgres", password=PASSWORD)
    assert (shadowed.value.code, shadowed.value.problem["backend"]) == ("shadowed", "env")

    server.respond_write = lambda m, p, b: (403, {"code": "forbidden", "detail": "The token does not grant this."})
    with pytest.raises(SecretsGatewayAccessDenied, match="forbidden"):
        c.set_variable("db_password", PASSWORD)

    server.respond_write = lambda m, p, b: (401, {"code": "invalid_token"})
    with pytest.raises(SecretsGatewayUnavailable, match="HTTP 401 invalid_token"):
        c.set_variable("db_password", PASSWORD)

    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
    assert "write-token" not in caplog.text


def test_a_write_that_may_have_landed_is_repeated_only_when_that_is_safe(server: LoopbackServer, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    c = client(server, tmp_path, retries=2)
    answers: list[int] = []

    def cut_once(method: str, path: str, body: bytes) -> tuple[int, dict]:
        answers.append(0 if not answers else 201)
        return (0, {}) if answers[-1] == 0 else written(method, path, body)

    # A plain PUT (and one with If-Match) sets the same value again: repeated.
    server.respond_write = cut_once
    assert c.set_variable("k", PASSWORD).version == "v-2"
    assert [r.method for r in server.requests] == ["PUT", "PUT"]

    # A create_only PUT is not: its repeat would fail against its own create. The error says it may have landed.
    answers.clear()
    server.requests.clear()
    with pytest.raises(SecretsGatewayUnavailable, match="may have been applied") as lost:
        c.set_variable("k", PASSWORD, create_only=True)
    assert len(server.requests) == 1
    assert PASSWORD not in str(lost.value)

    # A 503 is retried for a PUT, not for a create_only one.
    server.requests.clear()
    statuses = iter([503, 201])
    server.respond_write = lambda m, p, b: (503, {"code": "write_failed"}) if next(statuses) == 503 else written(m, p, b)
    assert c.set_connection("db", conn_type="postgres").version == "v-2"
    assert len(server.requests) == 2
    server.requests.clear()
    server.respond_write = lambda m, p, b: (503, {"code": "write_failed", "detail": "The writes target failed (timeout)."})
    with pytest.raises(SecretsGatewayUnavailable, match="HTTP 503 write_failed"):
        c.set_connection("db", conn_type="postgres", create_only=True)
    assert len(server.requests) == 1

    # A repeat that meets its own earlier write (412 after a lost answer) says so.
    server.requests.clear()
    replies = iter([0, 412])
    server.respond_write = lambda m, p, b: (0, {}) if next(replies) == 0 else (412, {"code": "precondition_failed"})
    with pytest.raises(SecretsGatewayPreconditionFailed, match="an earlier attempt whose answer was lost may have done it"):
        c.set_connection("db", conn_type="postgres", if_match="v-1")
    assert len(server.requests) == 2

    # A DELETE repeated after a lost answer that finds nothing (404) says the first may have done it too.
    server.requests.clear()
    replies = iter([0, 404])
    server.respond_write = lambda m, p, b: (0, {}) if next(replies) == 0 else (404, {"code": "not_found"})
    with pytest.raises(SecretsGatewayWriteRefused, match="an earlier attempt whose answer was lost may have done it"):
        c.delete_variable("k")
    assert [r.method for r in server.requests] == ["DELETE", "DELETE"]

    # Nothing listening: nothing was sent, so every write is retried, and the error says nothing was sent.
    server.stop()
    with pytest.raises(SecretsGatewayUnavailable, match="no answer after 3 attempt.*nothing was sent"):
        c.set_variable("k", "v", create_only=True)
    assert PASSWORD not in caplog.text


def test_writes_over_mutual_tls(tls_server: LoopbackServer, pki: Pki, tmp_path) -> None:
    tls_server.respond_write = written
    assert tls_server.tls is not None
    tls_server.tls.verify_mode = ssl.CERT_REQUIRED
    cert, key = pki.mint("deployer")
    c = client(tls_server, tmp_path, ca_bundle=str(pki.ca), client_cert=str(cert), client_key=str(key), retries=0)
    assert c.set_connection("db", conn_type="postgres", password=PASSWORD, ttl=600).version == "v-2"
    assert tls_server.requests[-1].peer_cn == "deployer"
    with pytest.raises(SecretsGatewayUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        client(tls_server, tmp_path, retries=0).set_variable("k", "v")
    with pytest.raises(ValueError, match="^GatewayClient: ca_bundle and client_cert need an https"):
        GatewayClient("http://127.0.0.1:1", token="t", ca_bundle=str(pki.ca))


def test_create_only_goes_on_a_new_connection_and_an_untold_fanout_is_a_warning(server: LoopbackServer, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    server.respond_write = written
    c = client(server, tmp_path)
    c.set_variable("a", "1")
    c.set_variable("b", "2")
    assert server.requests[0].client_port == server.requests[1].client_port, "kept alive"
    c.set_variable("c", "3", create_only=True)
    c.set_variable("d", "4", create_only=True)
    assert len({r.client_port for r in server.requests[1:]}) == 3, "a create_only write opens its own connection"

    server.respond_write = lambda m, p, b: (200, {"key": "k", "backend": "vault", "version": "7", "created": False, "fanout": "unavailable"})
    caplog.set_level(logging.WARNING, logger="airflow_secrets_gateway")
    result = c.set_variable("k", PASSWORD)
    assert (result.fanout, result.created, result.expires) == ("unavailable", False, None)
    assert "other replicas were not told" in caplog.text and "'k'" in caplog.text
    assert PASSWORD not in caplog.text

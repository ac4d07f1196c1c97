from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from airflow.models.connection import Connection
from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

from airflow_secrets_gateway import SecretsGatewayAccessDenied, SecretsGatewayBackend, SecretsGatewayError
from airflow_secrets_gateway.backend import quote_id

from conftest import LoopbackServer

PASSWORD = "s3cr3t-p@ss/word"
CONN = {
    "conn_id": "my/db",
    "conn_type": "postgres",
    "description": "the warehouse",
    "host": "db.internal",
    "login": "airflow",
    "password": PASSWORD,
    "schema": "dwh",
    "port": 5432,
    "extra": {"sslmode": "require", "nested": {"a": [1, 2]}},
}


def backend(server: LoopbackServer, **kwargs: object) -> SecretsGatewayBackend:
    return SecretsGatewayBackend(url=server.url, retries=kwargs.pop("retries", 0), **kwargs)  # type: ignore[arg-type]


def test_connection_json_is_what_connection_from_json_reads(server: LoopbackServer) -> None:
    server.respond = lambda path: (200, CONN)
    value = backend(server).get_conn_value("my/db")
    assert value is not None and "conn_id" not in value
    conn = Connection.from_json(value, conn_id="my/db")
    assert (conn.conn_type, conn.description, conn.host, conn.login, conn.password, conn.schema, conn.port) == (
        "postgres", "the warehouse", "db.internal", "airflow", PASSWORD, "dwh", 5432,
    )
    assert conn.extra_dejson == CONN["extra"]
    assert server.requests[0].path == "/v1/connections/my%2Fdb"


def test_null_fields_are_left_out(server: LoopbackServer) -> None:
    server.respond = lambda path: (200, {**{k: None for k in CONN}, "conn_id": "x", "conn_type": "http"})
    assert backend(server).get_conn_value("x") == '{"conn_type": "http"}'


def test_ids_are_one_path_segment_decoded_once_by_the_gateway(server: LoopbackServer) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    b = backend(server)
    for key in ["a/b", "../etc/passwd", ".", "with space", "pct%2F", "ünï", "q?x=1#f"]:
        b.get_variable(key)
    assert [r.path for r in server.requests] == [
        "/v1/variables/a%2Fb",
        "/v1/variables/%2E%2E%2Fetc%2Fpasswd",
        "/v1/variables/%2E",
        "/v1/variables/with%20space",
        "/v1/variables/pct%252F",
        "/v1/variables/%C3%BCn%C3%AF",
        "/v1/variables/q%3Fx%3D1%23f",
    ]
    assert quote_id("a.b") == "a%2Eb"


def test_variable_and_config(server: LoopbackServer) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "" if "variables" in path else "42"})
    b = backend(server)
    assert b.get_variable("k") == ""
    assert b.get_config("core__parallelism") == "42"
    assert server.requests[1].path == "/v1/config/core__parallelism"


def test_not_found_is_none_but_a_wrong_route_is_an_error(server: LoopbackServer) -> None:
    b = backend(server)
    server.respond = lambda path: (404, {"code": "not_found"})
    assert b.get_conn_value("nope") is None
    assert b.get_variable("nope") is None
    assert b.get_config("nope") is None
    server.respond = lambda path: (404, {"code": "route_not_found"})
    with pytest.raises(SecretsGatewayError, match="404 route_not_found"):
        b.get_variable("x")


def test_403_is_airflows_authoritative_access_denied(server: LoopbackServer) -> None:
    server.respond = lambda path: (403, {"code": "forbidden"})
    with pytest.raises(SecretsGatewayAccessDenied) as info:
        backend(server).get_conn_value("secret_db")
    assert isinstance(info.value, AirflowSecretsBackendAccessDenied)
    assert isinstance(info.value, PermissionError)
    assert "secret_db" in str(info.value) and "forbidden" in str(info.value) and "req-1" in str(info.value)


def test_401_and_5xx_are_errors_after_the_retries(server: LoopbackServer) -> None:
    server.respond = lambda path: (401, {"code": "unauthenticated"})
    with pytest.raises(SecretsGatewayError, match="401 unauthenticated"):
        backend(server, retries=3).get_variable("k")
    assert len(server.requests) == 1  # a 401 is not retried
    server.requests.clear()
    server.respond = lambda path: (503, {"code": "backend_unavailable"})
    with pytest.raises(SecretsGatewayError, match="503 backend_unavailable"):
        backend(server, retries=2).get_variable("k")
    assert len(server.requests) == 3


def test_a_5xx_then_a_success_is_a_success(server: LoopbackServer) -> None:
    answers = iter([(502, None), (200, {"key": "k", "value": "v"})])
    server.respond = lambda path: next(answers)
    assert backend(server, retries=1).get_variable("k") == "v"


def test_timeouts_and_refused_connections_are_errors(server: LoopbackServer) -> None:
    server.delay_seconds = 1.0
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    started = time.monotonic()
    with pytest.raises(SecretsGatewayError, match="timed out"):
        backend(server, timeout=0.2).get_variable("k")
    assert time.monotonic() - started < 0.9
    refused = SecretsGatewayBackend(url="http://127.0.0.1:9", retries=1)
    with pytest.raises(SecretsGatewayError, match="after 2 attempt"):
        refused.get_variable("k")


def test_bearer_token_and_token_file_reread_when_it_changes(server: LoopbackServer, tmp_path: Path) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    backend(server, token="tok-inline").get_variable("k")
    token_file = tmp_path / "token"
    token_file.write_text("tok-one\n")
    b = backend(server, token_path=str(token_file))
    b.get_variable("k")
    token_file.write_text("tok-two-longer\n")  # a projected token is rotated in place
    b.get_variable("k")
    assert [r.headers.get("authorization") for r in server.requests] == [
        "Bearer tok-inline", "Bearer tok-one", "Bearer tok-two-longer",
    ]
    backend(server).get_variable("k")
    assert "authorization" not in server.requests[-1].headers
    with pytest.raises(ValueError):
        SecretsGatewayBackend(url=server.url, token="a", token_path=str(token_file))


def test_task_context_headers(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "etl")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "load")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2026-01-01T00:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "2")
    backend(server).get_variable("k", team_name="blue")
    h = server.requests[0].headers
    assert (h["x-airflow-dag-id"], h["x-airflow-task-id"], h["x-airflow-run-id"], h["x-airflow-try-number"]) == (
        "etl", "load", "manual__2026-01-01T00:00:00+00:00", "2",
    )
    assert h["x-airflow-team-name"] == "blue"
    assert h["user-agent"].startswith("airflow-secrets-gateway/")


def test_kwargs_from_environment_strings_and_bad_values() -> None:
    b = SecretsGatewayBackend(url="https://gw.example/", timeout="2.5", retries="1", verify="false")
    assert (b.url, b.timeout, b.retries) == ("https://gw.example", 2.5, 1)
    for bad in [{"url": "gw:8080"}, {"url": "http://x", "timeout": "0"}, {"url": "http://x", "retries": "-1"},
                {"url": "http://x", "verify": "maybe"}, {"url": "http://x", "verify": False, "ca_bundle": "/ca.pem"}]:
        with pytest.raises(ValueError):
            SecretsGatewayBackend(**bad)  # type: ignore[arg-type]


def test_one_keep_alive_connection_per_process_and_a_new_one_after_fork(server: LoopbackServer) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    b = backend(server)
    for key in "abc":
        b.get_variable(key)
    assert len({r.client_port for r in server.requests}) == 1  # one TCP connection for all three
    assert server.requests[0].headers.get("connection", "keep-alive").lower() == "keep-alive"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its own connection, and it works
        ok = b.get_variable("c") == "v"
        os.write(write_fd, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b"1"
    assert b.get_variable("d") == "v"  # the parent's connection is untouched by the child
    ports = [r.client_port for r in server.requests]
    assert ports[3] != ports[0] and ports[4] == ports[0]


def test_no_secret_or_token_in_logs_or_errors(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = iter([(500, None), (200, CONN), (503, {"code": "backend_unavailable"}), (503, None)])
    server.respond = lambda path: next(answers)
    b = backend(server, token="tok-very-secret", retries=1)
    assert b.get_conn_value("my/db") is not None
    with pytest.raises(SecretsGatewayError) as info:
        b.get_conn_value("my/db")
    text = caplog.text + str(info.value)
    assert "retrying" in caplog.text
    assert PASSWORD not in text and "tok-very-secret" not in text

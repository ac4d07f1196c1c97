"""Opt-in batch: one POST /v1/lookup for a task's declared ids, answers kept for this try only (issue 22)."""

from __future__ import annotations

import json
import os

import pytest

from airflow_secrets_gateway import SecretsGatewayAccessDenied, SecretsGatewayBackend

from conftest import LoopbackServer

CONN = {"conn_id": "wh", "conn_type": "postgres", "host": "db", "login": "u", "password": "pw-batch", "port": 5432,
        "schema": None, "description": None, "extra": {"sslmode": "require"}}


def lookup_answer(path: str, body: bytes) -> tuple[int, dict]:
    asked = json.loads(body)
    return 200, {
        "connections": [
            {"conn_id": c, "status": "found", "source": "files", "connection": {**CONN, "conn_id": c}} if c.startswith("wh")
            else {"conn_id": c, "status": "error", "code": "denied"} if c == "secret_db"
            else {"conn_id": c, "status": "not_found", "code": "not_found"}
            for c in asked.get("connections", [])
        ],
        "variables": [
            {"key": k, "status": "found", "source": "files", "value": f"v-{k}"} if k != "flaky"
            else {"key": k, "status": "error", "code": "backend_unavailable"}
            for k in asked.get("variables", [])
        ],
        "config": [],
    }


@pytest.fixture()
def task_context(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in {"AIRFLOW_CTX_DAG_ID": "d", "AIRFLOW_CTX_TASK_ID": "t", "AIRFLOW_CTX_DAG_RUN_ID": "r",
                        "AIRFLOW_CTX_TRY_NUMBER": "1"}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_declared_ids_come_in_one_round_trip_and_later_lookups_are_served_from_it(server: LoopbackServer, task_context: pytest.MonkeyPatch) -> None:
    server.respond_post = lookup_answer
    server.respond = lambda path: (200, {"key": "x", "value": "from GET"})
    b = SecretsGatewayBackend(url=server.url, token="tok", retries=0)
    assert b.prefetch(connections=["wh", "wh2", "missing", "secret_db"], variables=["a", "flaky"]) == 5
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/lookup")]
    assert json.loads(server.requests[0].body) == {"connections": ["missing", "secret_db", "wh", "wh2"], "variables": ["a", "flaky"]}
    assert server.requests[0].headers["authorization"] == "Bearer tok"
    assert server.requests[0].headers["x-airflow-task-id"] == "t"

    assert json.loads(b.get_conn_value("wh") or "") == {"conn_type": "postgres", "host": "db", "login": "u", "password": "pw-batch",
                                                         "port": 5432, "extra": {"sslmode": "require"}}
    assert b.get_conn_value("wh2") is not None
    assert b.get_conn_value("missing") is None
    with pytest.raises(SecretsGatewayAccessDenied, match="secret_db"):
        b.get_conn_value("secret_db")
    assert b.get_variable("a") == "v-a"
    assert len(server.requests) == 1  # all of that from the one answer
    # What the batch could not answer, and what was not declared, is asked for as usual.
    assert b.get_variable("flaky") == "from GET"
    assert b.get_variable("undeclared") == "from GET"
    assert [r.path for r in server.requests[1:]] == ["/v1/variables/flaky", "/v1/variables/undeclared"]


def test_the_answer_is_never_reused_by_another_try_or_process(server: LoopbackServer, task_context: pytest.MonkeyPatch) -> None:
    server.respond_post = lookup_answer
    server.respond = lambda path: (200, {"key": "a", "value": "fresh"})
    b = SecretsGatewayBackend(url=server.url, retries=0)
    b.prefetch(variables=["a"])
    assert b.get_variable("a") == "v-a"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # another process (a forked task): asks the gateway
        os.write(write_fd, b"1" if b.get_variable("a") == "fresh" else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b"1"
    task_context.setenv("AIRFLOW_CTX_TRY_NUMBER", "2")  # the next try of the same task
    assert b.get_variable("a") == "fresh"


def test_a_failed_batch_is_loud_or_falls_through(server: LoopbackServer, task_context: pytest.MonkeyPatch) -> None:
    from airflow_secrets_gateway import SecretsGatewayUnavailable

    server.respond_post = lambda path, body: (401, {"code": "invalid_token", "detail": "the token has expired"})
    with pytest.raises(SecretsGatewayUnavailable, match=r"a batch of 2 id\(s\): HTTP 401 invalid_token"):
        SecretsGatewayBackend(url=server.url, retries=0).prefetch(connections=["a", "b"])
    quiet = SecretsGatewayBackend(url=server.url, retries=0, on_unavailable="fall_through")
    assert quiet.prefetch(connections=["a", "b"]) == 0
    assert SecretsGatewayBackend(url=server.url).prefetch() == 0  # nothing declared, nothing sent


def test_more_ids_than_one_request_takes_are_sent_in_several(server: LoopbackServer, task_context: pytest.MonkeyPatch) -> None:
    server.respond_post = lookup_answer
    b = SecretsGatewayBackend(url=server.url, retries=0)
    ids = [f"wh_{i:03}" for i in range(230)]
    assert b.prefetch(connections=ids, variables=["a"]) == 231
    sizes = [(len(json.loads(r.body).get("connections", [])), len(json.loads(r.body).get("variables", []))) for r in server.requests]
    assert sizes == [(100, 1), (100, 0), (30, 0)]
    assert b.get_conn_value("wh_229") is not None and len(server.requests) == 3

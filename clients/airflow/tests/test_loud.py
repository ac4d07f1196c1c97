"""Loud by default: a broken gateway is not a missing secret (issue 14, point 8)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

from airflow_secrets_gateway import SecretsGatewayBackend, SecretsGatewayError, SecretsGatewayUnavailable

from conftest import LoopbackServer


def test_a_gateway_that_is_down_stops_airflows_search_naming_the_url_and_the_reason() -> None:
    b = SecretsGatewayBackend(url="http://127.0.0.1:9", retries=0)
    with pytest.raises(SecretsGatewayUnavailable) as info:
        b.get_conn_value("warehouse")
    # Airflow 3 re-raises this one exception instead of asking its next backend.
    assert isinstance(info.value, AirflowSecretsBackendAccessDenied) and isinstance(info.value, SecretsGatewayError)
    message = str(info.value)
    assert "http://127.0.0.1:9" in message and "connection 'warehouse'" in message
    assert "ConnectionRefusedError" in message and "request none" in message
    assert "on_unavailable=fall_through" in message


def test_401_names_the_gateways_reason_and_request_id(server: LoopbackServer) -> None:
    server.respond = lambda path: (401, {"code": "invalid_token", "detail": "the token has expired"})
    with pytest.raises(SecretsGatewayUnavailable) as info:
        SecretsGatewayBackend(url=server.url, token="tok-expired", retries=0).get_variable("k")
    message = str(info.value)
    assert server.url in message and "variable 'k'" in message
    assert "HTTP 401 invalid_token (the token has expired)" in message and "request req-1" in message
    assert "tok-expired" not in message


def test_a_missing_token_file_is_loud(server: LoopbackServer, tmp_path: Path) -> None:
    server.respond = lambda path: (200, {"key": "k", "value": "v"})
    missing = tmp_path / "no-token"
    with pytest.raises(SecretsGatewayUnavailable, match=r"cannot read the token file .*no-token \(No such file or directory\)"):
        SecretsGatewayBackend(url=server.url, token_path=str(missing)).get_variable("k")
    assert server.requests == []  # nothing is sent without the token


def test_5xx_after_retries_and_an_unexpected_reply_are_loud(server: LoopbackServer) -> None:
    server.respond = lambda path: (503, {"code": "backend_unavailable", "detail": "vault: connection refused"})
    with pytest.raises(SecretsGatewayUnavailable, match=r"HTTP 503 backend_unavailable \(vault: connection refused\) \(request req-2\)"):
        SecretsGatewayBackend(url=server.url, retries=1).get_config("core__x")
    server.respond = lambda path: (200, None)
    with pytest.raises(SecretsGatewayUnavailable, match="not a JSON object"):
        SecretsGatewayBackend(url=server.url, retries=0).get_config("core__x")


def test_fall_through_keeps_the_old_behaviour_with_a_warning(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    server.respond = lambda path: (401, {"code": "unauthenticated"})
    b = SecretsGatewayBackend(url=server.url, token="tok-x", retries=0, on_unavailable="fall_through")
    assert b.get_conn_value("warehouse") is None  # Airflow asks its next backend
    assert f"the Secrets Gateway at {server.url} could not answer for connection 'warehouse': HTTP 401 unauthenticated (request req-1)" in caplog.text
    assert "on_unavailable=fall_through" in caplog.text and "tok-x" not in caplog.text
    down = SecretsGatewayBackend(url="http://127.0.0.1:9", retries=0, on_unavailable="fall_through")
    assert down.get_variable("k") is None
    # A 403 stays an authoritative denial, and a 404 a miss, whatever on_unavailable says.
    server.respond = lambda path: (404, {"code": "not_found"})
    assert b.get_variable("k") is None
    with pytest.raises(ValueError, match="on_unavailable must be one of raise, fall_through"):
        SecretsGatewayBackend(url=server.url, on_unavailable="ignore")

"""The lean request path: keep-alive, reconnecting after a gateway restart, threads (issue 22)."""

from __future__ import annotations

import threading
import time

from airflow_secrets_gateway import SecretsGatewayBackend

from conftest import LoopbackServer


def echo(path: str) -> tuple[int, dict]:
    return 200, {"key": path.rsplit("/", 1)[-1], "value": f"value of {path.rsplit('/', 1)[-1]}"}


def test_a_connection_dropped_by_a_gateway_restart_reconnects_at_once(server: LoopbackServer) -> None:
    server.respond = echo
    b = SecretsGatewayBackend(url=server.url, retries=0)  # the reconnect is not a retry: none is allowed
    assert b.get_variable("before") == "value of before"
    server.restart()  # every open connection is cut; the same port listens again
    assert b.get_variable("after") == "value of after"
    time.sleep(0.05)
    # The gateway closes a connection while it is idle (keep-alive timeout, shutdown): the next lookup reconnects too.
    server.restart()
    time.sleep(0.05)
    assert b.get_variable("later") == "value of later"
    ports = [r.client_port for r in server.requests]
    assert len(set(ports)) == 3


def test_a_gateway_that_stays_down_is_still_reported(server: LoopbackServer) -> None:
    server.respond = echo
    b = SecretsGatewayBackend(url=server.url, retries=1)
    assert b.get_variable("a") == "value of a"
    server.stop()
    started = time.monotonic()
    try:
        b.get_variable("b")
    except Exception as e:  # noqa: BLE001
        assert "no answer after 2 attempt(s) (ConnectionRefusedError)" in str(e)
    else:
        raise AssertionError("expected a failure")
    assert time.monotonic() - started < 2


def test_concurrent_lookups_from_many_threads(server: LoopbackServer) -> None:
    server.respond = echo
    b = SecretsGatewayBackend(url=server.url, retries=0)
    threads, per_thread = 8, 40
    wrong: list[str] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            key = f"t{n}-{i}"
            got = b.get_variable(key)
            if got != f"value of {key}":
                wrong.append(f"{key} -> {got!r}")

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert wrong == []
    assert len(server.requests) == threads * per_thread
    # One keep-alive connection per thread: no thread shares another's, none opens more than one.
    assert len({r.client_port for r in server.requests}) == threads


def test_connection_close_from_the_gateway_is_honoured(server: LoopbackServer) -> None:
    server.respond = echo
    server.close_connections = True  # e.g. a gateway draining for shutdown
    b = SecretsGatewayBackend(url=server.url, retries=0)
    assert [b.get_variable(k) for k in ("a", "b", "c")] == ["value of a", "value of b", "value of c"]
    assert len({r.client_port for r in server.requests}) == 3


def test_a_token_that_would_break_the_header_is_refused_unsent(server: LoopbackServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server.respond = echo
    token_file = tmp_path / "token"
    token_file.write_text("tok-one\r\nX-Injected: 1\n")
    import pytest

    from airflow_secrets_gateway import SecretsGatewayUnavailable

    with pytest.raises(SecretsGatewayUnavailable, match="characters a bearer token cannot have"):
        SecretsGatewayBackend(url=server.url, token_path=str(token_file), retries=0).get_variable("k")
    with pytest.raises(ValueError, match="characters a bearer token cannot have"):
        SecretsGatewayBackend(url=server.url, token="a\nb")
    assert server.requests == []


def test_proxy_variables_are_not_used(server: LoopbackServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The client connects to the URL itself: a proxy would see the token and the answers.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.respond = echo
    assert SecretsGatewayBackend(url=server.url, retries=0).get_variable("k") == "value of k"


def test_keep_alive_with_descriptors_above_1023(server: LoopbackServer) -> None:
    # A busy worker has many files open: the connection's descriptor can be above select()'s limit.
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        import pytest

        pytest.skip("the descriptor limit is below 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    fillers = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            fillers.append(fd)
            if fd >= 1030:
                break
        server.respond = echo
        b = SecretsGatewayBackend(url=server.url, retries=0)
        assert [b.get_variable(k) for k in ("a", "b", "c")] == ["value of a", "value of b", "value of c"]
        assert len({r.client_port for r in server.requests}) == 1  # still one kept-alive connection
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

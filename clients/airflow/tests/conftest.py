"""A real HTTP server on 127.0.0.1 whose answers each test scripts, and which records every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

import pytest


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


Reply = tuple[int, Optional[dict]]


@dataclass
class LoopbackServer:
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    respond: Callable[[str], Reply] = lambda path: (404, {"code": "not_found"})
    delay_seconds: float = 0.0


@pytest.fixture()
def server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            if state.delay_seconds:
                time.sleep(state.delay_seconds)
            status, body = state.respond(self.path)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            ctype = "application/json" if status == 200 else "application/problem+json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", f"req-{len(state.requests)}")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()

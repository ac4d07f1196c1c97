"""``SecretsGatewayBackend``: Airflow's secrets backend interface over the gateway's HTTP API
(and the HTTP transport that ``GatewayClient``, the write client in client.py, sends through).

Airflow calls ``get_conn_value``, ``get_variable`` and ``get_config`` with an id; this
backend asks ``GET /v1/connections/{id}``, ``/v1/variables/{id}`` or ``/v1/config/{id}``.

* ``404 not_found`` is ``None``: Airflow goes on down its chain of backends.
* ``403`` raises :class:`SecretsGatewayAccessDenied`, which is Airflow's
  ``AirflowSecretsBackendAccessDenied`` where the installed Airflow has it, so Airflow
  stops there instead of asking a less restricted backend.
* Any other failure (the gateway unreachable, a timeout, 5xx after the retries, 401, an
  unreadable token file, an unexpected reply) raises :class:`SecretsGatewayUnavailable`,
  which stops Airflow's search too (a broken gateway is not a missing secret), naming the
  URL, the reason and the gateway's request id. With ``on_unavailable="fall_through"`` it
  is logged as a warning instead and Airflow asks its next backend.

The request path is lean on purpose (a lookup costs a task about as much as a local one):
one keep-alive connection per backend, thread and process, reconnected when the gateway
dropped it; the request's bytes built once but for the task context and the token; the
reply parsed by ``http.client``; the token file re-read only when it changes; TLS files
only when a connection is opened.

A secret value or the token never appears in a log line or an exception message.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import quote, urlsplit

try:  # Airflow 2.x and 3.x both export the core base class here.
    from airflow.secrets import BaseSecretsBackend
except ImportError:  # pragma: no cover - only without Airflow installed
    BaseSecretsBackend = object  # type: ignore[assignment,misc]

try:  # task-sdk >= 1.2.2 (Airflow 3.x): an authoritative stop that Airflow must not fall through.
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied as _StopSearchBase
except ImportError:  # Airflow 2.x, older 3.x: no exception stops the search; Airflow logs it and goes on.
    _StopSearchBase = PermissionError  # type: ignore[assignment,misc]

__all__ = [
    "SecretsGatewayAccessDenied",
    "SecretsGatewayBackend",
    "SecretsGatewayError",
    "SecretsGatewayUnavailable",
    "prefetch",
]

log = logging.getLogger(__name__)

N = TypeVar("N", int, float)

__version__ = "0.2.0"  # pyproject.toml says the same (tests/test_package.py)
USER_AGENT = f"airflow-secrets-gateway/{__version__}"

# The task's context, for the gateway's audit log: environment variable -> header.
CONTEXT_HEADERS = {
    "AIRFLOW_CTX_DAG_ID": "X-Airflow-Dag-Id",
    "AIRFLOW_CTX_TASK_ID": "X-Airflow-Task-Id",
    "AIRFLOW_CTX_DAG_RUN_ID": "X-Airflow-Run-Id",
    "AIRFLOW_CTX_TRY_NUMBER": "X-Airflow-Try-Number",
}
_CONTEXT_VARS = tuple(CONTEXT_HEADERS)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BATCH_LIMIT = 100  # ids of one kind in one POST /v1/lookup (the gateway's LookupRequest maxItems)
ON_UNAVAILABLE = ("raise", "fall_through")
# What a dropped or broken connection raises (http.client's RemoteDisconnected is a ConnectionResetError,
# a garbled reply an HTTPException; ssl.SSLError and socket.timeout are OSErrors).
_CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class SecretsGatewayError(Exception):
    """Every error of this package: the gateway could not answer, or (GatewayClient) refused a write."""


class SecretsGatewayUnavailable(SecretsGatewayError, _StopSearchBase):  # type: ignore[valid-type,misc]
    """The gateway could not answer (unreachable, timed out, 5xx, 401, unexpected reply): with the
    backend loud (the default) and from GatewayClient always. Airflow 3 stops its search here.

    A subclass of Airflow's ``AirflowSecretsBackendAccessDenied`` where the installed Airflow has
    it (task-sdk >= 1.2.2), the one exception Airflow does not swallow; Airflow 2.x logs it with
    its traceback and asks the next backend.
    """


class SecretsGatewayAccessDenied(_StopSearchBase):  # type: ignore[valid-type,misc]
    """The gateway denied this token the secret (HTTP 403). Airflow does not fall through."""


# ---- Fork safety --------------------------------------------------------------
# Workers fork (Celery prefork, the Airflow 3 task supervisor). A connection must never be
# shared across a fork, and a batch answer belongs to one task try in one process: a child
# starts with neither.
_generation = 0


def _after_fork_in_child() -> None:
    global _generation, _prefetch_lock
    _generation += 1
    _prefetched.clear()
    _prefetch_lock = threading.Lock()  # another thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ---- Helpers -----------------------------------------------------------------
def _as_number(name: str, value: Any, cast: Callable[[Any], N], minimum: float, exclusive: bool) -> N:
    # Per-key kwargs from AIRFLOW__SECRETS__BACKEND_KWARG__* arrive as strings.
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise ValueError(f"SecretsGatewayBackend: {name} must be a number") from None
    if number < minimum or (exclusive and number == minimum):
        raise ValueError(f"SecretsGatewayBackend: {name} must be {'>' if exclusive else '>='} {minimum:g}")
    return number


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"SecretsGatewayBackend: {name} must be true or false")


def quote_id(secret_id: str) -> str:
    """One path segment holding the whole id: the gateway percent-decodes the rest of the path once.

    Every reserved character is encoded, ``/`` included; ``.`` is encoded too, because
    an HTTP client or proxy may normalise ``..`` and ``.`` path segments away.
    """
    return quote(secret_id, safe="").replace(".", "%2E")


def _header_value(value: str) -> str:
    # A header carries printable ASCII only; anything else is percent-encoded.
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe="")


def _printable(text: Any, limit: int = 200) -> Optional[str]:
    # What the gateway says about a failure (its problem document's code and detail) goes into our
    # messages: the gateway never puts a value or a token there, and only short printable text is kept.
    if not isinstance(text, str) or not text.isprintable():
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bearer_ok(token: str) -> bool:
    # The token goes into a header as it is: only what a bearer token may hold (RFC 6750's b64token, and no CR/LF).
    return token.isascii() and token.isprintable() and " " not in token


def _check_token(token: str) -> None:
    if not _bearer_ok(token):
        raise _Failure("the token holds characters a bearer token cannot have")


def _problem_fields(body: bytes, keep: tuple[str, ...] = ("code", "detail"), limit: int = 200) -> dict[str, str]:
    """The fields ``keep`` of a problem document, each only as printable text (a code cut at 64 characters,
    anything else at ``limit``): the gateway never puts a value or a token there."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(decoded, dict):
        return {}
    fields = {k: _printable(decoded.get(k), 64 if k == "code" else limit) for k in keep}
    return {k: v for k, v in fields.items() if v}


def _backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt``: 0.1, 0.2, 0.4, ... up to 2."""
    return min(0.1 * 2 ** (attempt - 1), 2.0)


def _file_stamp(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _Failure(Exception):
    """Why a request got no answer: the reason and the gateway's request id, for the message the user sees.

    ``sent``: the request may have reached the gateway (it failed after it was written, not while connecting).
    """

    def __init__(self, reason: str, request_id: Optional[str] = None, sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.sent = sent


class _NotSent(Exception):
    """A connection error while connecting (refused, TLS handshake): the request never left, so it is always safe to repeat."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.error = error


class _TokenSource:
    """A fixed token, or a file re-read whenever it changes (projected Kubernetes service-account tokens)."""

    def __init__(self, token: Optional[str], token_path: Optional[str]) -> None:
        if token and token_path:
            raise ValueError("SecretsGatewayBackend: give token or token_path, not both")
        self._path = os.fspath(token_path) if token_path else None
        self._stamp: Optional[tuple[int, int, int]] = None
        token = token.strip() if token else None
        if token and not _bearer_ok(token):
            raise ValueError("SecretsGatewayBackend: the token holds characters a bearer token cannot have")
        self.header: Optional[str] = f"Bearer {token}" if token else None
        self.identity = self._path or (f"inline:{id(self)}" if token else "none")

    def authorization(self) -> Optional[str]:
        """The Authorization header's value (None without a token); raises _Failure if the file cannot be read."""
        if self._path is None:
            return self.header
        try:
            # No lock (a lock held by another thread at a fork would hang the child): two threads
            # reading the file at once both set what they read, and a stale stamp only causes a re-read.
            stamp = _file_stamp(self._path)
            if stamp != self._stamp:
                with open(self._path, encoding="utf-8") as f:
                    token = f.read().strip()
                _check_token(token)
                self.header = f"Bearer {token}" if token else None
                self._stamp = stamp
        except OSError as e:
            raise _Failure(f"cannot read the token file {self._path} ({e.strerror})") from None
        return self.header


class _TlsContext:
    """The TLS settings, as an ``ssl.SSLContext`` rebuilt when the CA bundle or the client certificate/key files change.

    Consulted only when a connection is opened: a rotated file reaches the next handshake.
    """

    def __init__(self, verify: bool, ca_bundle: Optional[str], client_cert: Optional[str], client_key: Optional[str]) -> None:
        self._verify = verify
        self._files = tuple(os.fspath(p) if p else None for p in (ca_bundle, client_cert, client_key))
        self._current: Optional[tuple[tuple[Optional[tuple[int, int, int]], ...], ssl.SSLContext]] = None

    def get(self) -> ssl.SSLContext:
        try:
            stamps = tuple(_file_stamp(p) if p else None for p in self._files)
        except OSError as e:
            raise _Failure(f"cannot read the TLS file {e.filename} ({e.strerror})") from None
        current = self._current
        if current is None or current[0] != stamps:
            # No lock (see _TokenSource): two threads may both build one; either serves.
            current = self._current = (stamps, self._build())
        return current[1]

    def _build(self) -> ssl.SSLContext:
        ca_bundle, client_cert, client_key = self._files
        try:
            context = ssl.create_default_context(cafile=ca_bundle)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if not self._verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if client_cert:
                context.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as e:
            # ssl's messages name the problem ("PEM lib", "key values mismatch"), never key material.
            raise _Failure(f"cannot load the TLS files ({type(e).__name__}: {getattr(e, 'reason', None) or e.strerror or 'invalid'})") from None
        return context


class _ThreadConnection(threading.local):
    """This thread's keep-alive connection to the gateway (and the fork generation it was opened in)."""

    sock: Optional[socket.socket] = None
    generation: int = -1


# ---- Batch answers (opt-in, one task try, memory only) ---------------------------
# (gateway url, token identity, task context) -> {("connections"|"variables"|"config", id): answer}
_prefetched: dict[tuple[str, str, tuple[Optional[str], ...]], dict[tuple[str, str], Any]] = {}
_prefetch_lock = threading.Lock()


class _Denied:
    def __init__(self, code: str, request_id: str) -> None:
        self.code = code
        self.request_id = request_id


def _task_context() -> tuple[Optional[str], ...]:
    return tuple(os.environ.get(name) for name in _CONTEXT_VARS)


def prefetch(connections: Iterable[str] = (), variables: Iterable[str] = (), config: Iterable[str] = ()) -> int:
    """Declare the ids this task will read: one ``POST /v1/lookup`` fetches them all, and the task's later
    lookups of those ids are answered from memory.

    Call it at the start of a task (``prefetch(connections=["warehouse", "s3"])``). The answer belongs to
    this task try in this process only: it is never reused by another try, task or process, so the
    gateway stays the one cache and a rotated secret reaches the next task. Each ``SecretsGatewayBackend``
    in the secrets backends Airflow has loaded for this process fetches once. Returns the number of
    items answered.
    """
    wanted = {"connections": list(connections), "variables": list(variables), "config": list(config)}
    return sum(backend.prefetch(**wanted) for backend in _configured_backends())


def _configured_backends() -> list[SecretsGatewayBackend]:
    """The gateway backends among those Airflow looks secrets up in, in this process (built once by Airflow)."""
    try:  # Airflow 3: the task SDK's chain (the workers' backend in a task, the configured one elsewhere).
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded as loaded
    except ImportError:  # Airflow 2.x
        from airflow.configuration import ensure_secrets_loaded as loaded
    return [b for b in loaded() if isinstance(b, SecretsGatewayBackend)]


# ---- The backend ------------------------------------------------------------
class SecretsGatewayBackend(BaseSecretsBackend):  # type: ignore[misc,valid-type]
    """Reads Airflow Connections, Variables and config from a Secrets Gateway.

    Configure it in ``airflow.cfg`` (or ``AIRFLOW__SECRETS__BACKEND`` /
    ``AIRFLOW__WORKERS__SECRETS_BACKEND``)::

        [secrets]
        backend = airflow_secrets_gateway.SecretsGatewayBackend
        backend_kwargs = {"url": "http://127.0.0.1:8080", "token_path": "/var/run/secrets/gateway/token"}

    :param url: the gateway's base URL, e.g. ``http://127.0.0.1:8080``.
    :param token: a bearer token (prefer ``token_path``; kwargs can end up in logs).
    :param token_path: a file holding the token; re-read whenever it changes.
    :param timeout: seconds for connecting and for reading each reply (default 5).
    :param retries: extra attempts after a timeout, a connection error or a 5xx (default 2).
    :param on_unavailable: ``raise`` (default: stop Airflow's search with SecretsGatewayUnavailable)
        or ``fall_through`` (log a warning; Airflow asks its next backend).
    :param verify: verify the gateway's TLS certificate (default true).
    :param ca_bundle: a CA bundle file to verify it with (default: the system's CAs).
    :param client_cert: a client certificate file (PEM) for mutual TLS, with ``client_key``.
    :param client_key: its private key file (PEM), if not in ``client_cert``.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        token_path: Optional[str] = None,
        timeout: Union[float, str] = 5.0,
        retries: Union[int, str] = 2,
        on_unavailable: str = "raise",
        verify: Union[bool, str] = True,
        ca_bundle: Optional[str] = None,
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
    ) -> None:
        super().__init__()
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("SecretsGatewayBackend: url must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("SecretsGatewayBackend: url must not hold credentials (use token_path)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError("SecretsGatewayBackend: url has an invalid port") from None
        self.url = str(url).rstrip("/")
        self._tokens = _TokenSource(token, token_path)
        self.timeout = _as_number("timeout", timeout, float, 0, exclusive=True)
        self.retries = _as_number("retries", retries, int, 0, exclusive=False)
        if on_unavailable not in ON_UNAVAILABLE:
            raise ValueError(f"SecretsGatewayBackend: on_unavailable must be one of {', '.join(ON_UNAVAILABLE)}")
        self.on_unavailable = on_unavailable
        verify_flag = _as_bool("verify", verify)
        if ca_bundle and not verify_flag:
            raise ValueError("SecretsGatewayBackend: ca_bundle needs verify=true")
        if client_key and not client_cert:
            raise ValueError("SecretsGatewayBackend: client_key needs client_cert")
        if parts.scheme == "http" and (ca_bundle or client_cert):
            raise ValueError("SecretsGatewayBackend: ca_bundle and client_cert need an https:// url")
        self._host = parts.hostname
        self._port = port
        self._tls = _TlsContext(verify_flag, ca_bundle, client_cert, client_key) if parts.scheme == "https" else None
        self._path_prefix = quote(parts.path.rstrip("/"), safe="/%") + "/v1/"
        # Headers that never change, built once (the Host header is the URL's host and port as given).
        self._static_block = f"Host: {parts.netloc}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/json\r\n"
        self._local = _ThreadConnection()
        self._context: tuple[tuple[Optional[str], ...], str] = ((), "")

    # -- Airflow's interface --
    def get_conn_value(self, conn_id: str, team_name: Optional[str] = None) -> Optional[str]:
        """The connection as the JSON document ``Connection.from_json`` reads (with ``conn_type``)."""
        body = self._lookup("connections", conn_id, team_name)
        if body is None:
            return None
        return json.dumps({k: v for k, v in body.items() if k != "conn_id" and v is not None})

    def get_variable(self, key: str, team_name: Optional[str] = None) -> Optional[str]:
        body = self._lookup("variables", key, team_name)
        # Usually a string; a file-backed value may be any JSON value, returned as Airflow's own
        # LocalFilesystemBackend returns it.
        return None if body is None else body.get("value")

    def get_config(self, key: str) -> Optional[str]:
        body = self._lookup("config", key, None)
        return None if body is None else body.get("value")

    # -- Batch (opt-in) --
    def prefetch(self, connections: Iterable[str] = (), variables: Iterable[str] = (), config: Iterable[str] = ()) -> int:
        """One ``POST /v1/lookup`` for these ids; the answers serve this task try's later lookups (see :func:`prefetch`)."""
        lists = {"connections": sorted(set(connections)), "variables": sorted(set(variables)), "config": sorted(set(config))}
        total = sum(len(ids) for ids in lists.values())
        if not total:
            return 0
        what = f"a batch of {total} id(s)"
        store: dict[tuple[str, str], Any] = {}
        try:
            # The gateway takes up to BATCH_LIMIT ids of each kind per request.
            for start in range(0, max(len(ids) for ids in lists.values()), BATCH_LIMIT):
                request = {kind: ids[start : start + BATCH_LIMIT] for kind, ids in lists.items() if ids[start : start + BATCH_LIMIT]}
                status, body, request_id, _ = self._request("POST", self._path_prefix + "lookup", what, None, json.dumps(request).encode())
                if status != 200:
                    raise _Failure(self._status_reason(status, _problem_fields(body)), request_id)
                self._store_batch(self._decode(body, what, request_id), request_id, store)
        except _Failure as failure:
            self._unavailable(what, failure)
            return 0
        key = self._prefetch_key()
        with _prefetch_lock:
            # Answers for another task context (the previous task of an in-process `dags test`) are dropped.
            for other in [k for k in _prefetched if k[2] != key[2]]:
                del _prefetched[other]
            _prefetched.setdefault(key, {}).update(store)
        return len(store)

    @staticmethod
    def _store_batch(answer: dict[str, Any], request_id: str, store: dict[tuple[str, str], Any]) -> None:
        for kind, id_field in (("connections", "conn_id"), ("variables", "key"), ("config", "key")):
            for item in answer.get(kind) or ():
                item_id = item.get(id_field) if isinstance(item, dict) else None
                if not isinstance(item_id, str):
                    continue
                state = item.get("status")
                if state == "found":
                    found = item.get("connection") if kind == "connections" else {"value": item.get("value")}
                    if isinstance(found, dict):
                        store[(kind, item_id)] = found
                elif state == "not_found":
                    store[(kind, item_id)] = None
                elif state == "error" and item.get("code") == "denied":
                    store[(kind, item_id)] = _Denied("denied", request_id)
                # Other errors are not kept: the lookup itself asks again, and reports what it gets.

    def _prefetch_key(self) -> tuple[str, str, tuple[Optional[str], ...]]:
        return (self.url, self._tokens.identity, _task_context())

    # -- Lookups --
    def _lookup(self, kind: str, secret_id: str, team_name: Optional[str]) -> Optional[dict[str, Any]]:
        what = f"{'config' if kind == 'config' else kind[:-1]} {secret_id!r}"
        if _prefetched and team_name is None:
            answers = _prefetched.get(self._prefetch_key())
            if answers is not None and (kind, secret_id) in answers:
                answer = answers[(kind, secret_id)]
                if isinstance(answer, _Denied):
                    raise self._denied(what, answer.code, answer.request_id)
                return answer
        try:
            status, body, request_id, _ = self._request("GET", self._path_prefix + kind + "/" + quote_id(secret_id), what, team_name, None)
            if status == 200:
                return self._decode(body, what, request_id)
            problem = _problem_fields(body)
            code = problem.get("code") or "no code"
            if status == 404 and code == "not_found":
                return None
            if status == 403:
                raise self._denied(what, code, request_id)
            raise _Failure(self._status_reason(status, problem), request_id)
        except _Failure as failure:
            return self._unavailable(what, failure)

    def _denied(self, what: str, code: str, request_id: str) -> SecretsGatewayAccessDenied:
        return SecretsGatewayAccessDenied(
            f"the Secrets Gateway at {self.url} denied access to {what} ({code}, request {request_id}); "
            "the token is not granted this secret"
        )

    def _unavailable(self, what: str, failure: _Failure) -> None:
        message = (
            f"the Secrets Gateway at {self.url} could not answer for {what}: {failure.reason} "
            f"(request {failure.request_id or 'none'})"
        )
        if self.on_unavailable == "fall_through":
            log.warning("%s; on_unavailable=fall_through: Airflow asks its next secrets backend", message)
            return None
        raise SecretsGatewayUnavailable(
            f"{message}. This is not a missing secret: Airflow stops here (on_unavailable=fall_through would ask the next backend)"
        )

    @staticmethod
    def _status_reason(status: int, problem: dict[str, str]) -> str:
        reason = f"HTTP {status} {problem.get('code') or 'no code'}"
        if problem.get("detail"):
            reason += f" ({problem['detail']})"
        return reason

    @staticmethod
    def _decode(body: bytes, what: str, request_id: str) -> dict[str, Any]:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise _Failure("the reply is not a JSON object", request_id)
        return decoded

    # -- HTTP --
    def _request_head(self, method: str, path: str, team_name: Optional[str], extra_headers: str = "") -> bytes:
        """The request line and headers, as bytes: the fixed part built once, the task context when it changes."""
        context = _task_context()
        known, context_block = self._context
        if context != known:  # rebuilt only when the task context changes
            context_block = "".join(
                f"{header}: {_header_value(value)}\r\n" for header, value in zip(CONTEXT_HEADERS.values(), context) if value
            )
            self._context = (context, context_block)
        authorization = self._tokens.authorization()
        head = f"{method} {path} HTTP/1.1\r\n{self._static_block}{context_block}"
        if authorization:
            head += f"Authorization: {authorization}\r\n"
        if team_name:
            head += f"X-Airflow-Team-Name: {_header_value(team_name)}\r\n"
        return (head + extra_headers).encode("ascii")

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        team_name: Optional[str],
        body: Optional[bytes],
        extra_headers: str = "",
        idempotent: bool = True,
    ) -> tuple[int, bytes, str, bool]:
        """(status, body, request id, uncertain), after the retries; raises _Failure when no answer came.

        A request that failed while connecting never left and is always tried again. One that failed after
        it was written (a timeout, a cut connection, a 5xx) may have been applied: it is tried again only when
        ``idempotent`` (every read; a write that repeating cannot make worse). ``uncertain``: an earlier attempt
        may have been applied, so a 412 or 404 now may be that attempt's doing.
        """
        request = self._request_head(method, path, team_name, extra_headers)
        if body is not None:
            request += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        else:
            request += b"\r\n"
        attempts = self.retries + 1
        uncertain = False
        for attempt in range(1, attempts + 1):
            try:
                status, data, request_id, resent = self._exchange(method, request, idempotent)
            except _NotSent as e:
                reason, may_repeat, sent = self._error_kind(e.error), True, False
            except _CONNECTION_ERRORS as e:
                # The exception's text could name the URL; only its kind is reported, never a token or a value.
                reason, may_repeat, sent = self._error_kind(e), idempotent, True
            else:
                uncertain = uncertain or (resent and method != "GET")
                if status in RETRY_STATUSES and attempt < attempts and idempotent:
                    log.warning(
                        "Secrets Gateway answered %d for %s (request %s); retrying (%d/%d)",
                        status, what, request_id, attempt, self.retries,
                    )
                    uncertain = uncertain or method != "GET"
                    time.sleep(_backoff(attempt))
                    continue
                return status, data, request_id, uncertain
            if may_repeat and attempt < attempts:
                log.warning("Secrets Gateway request for %s failed (%s); retrying (%d/%d)", what, reason, attempt, self.retries)
                uncertain = uncertain or sent
                time.sleep(_backoff(attempt))
                continue
            raise _Failure(f"no answer after {attempt} attempt(s) ({reason})", sent=sent or uncertain)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _error_kind(e: BaseException) -> str:
        if isinstance(e, socket.timeout):
            return "timed out"
        if isinstance(e, ssl.SSLError):
            return f"TLS: {_printable(e.reason, 80) or type(e).__name__}"
        return type(e).__name__

    def _exchange(self, method: str, request: bytes, idempotent: bool = True) -> tuple[int, bytes, str, bool]:
        """(status, body, request id, resent: sent a second time after a kept-alive connection failed)."""
        local = self._local
        sock = local.sock
        # A write that must not be repeated goes on a new connection: on a kept-alive one, the gateway may
        # close it just as the request is written (its idle timeout), and that request could not be resent.
        if sock is not None and (local.generation != _generation or not idempotent or self._dropped(sock)):
            if local.generation == _generation:
                sock.close()
            sock = local.sock = None
        reused = sock is not None
        if sock is None:
            sock = self._connect_once()
        try:
            return (*self._send(sock, method, request), False)
        except _CONNECTION_ERRORS as e:
            self._close(sock)
            # A kept-alive connection the gateway closed under us (restart, idle timeout): a read, or a write that
            # is safe to repeat (a non-idempotent one never reuses a connection), is sent once more at once on a
            # new connection, not counted as a retry; the caller learns that it was resent.
            if not reused or isinstance(e, socket.timeout):
                raise
        sock = self._connect_once()
        try:
            return (*self._send(sock, method, request), True)
        except _CONNECTION_ERRORS:
            self._close(sock)
            raise

    def _connect_once(self) -> socket.socket:
        try:
            return self._connect()
        except _CONNECTION_ERRORS as e:
            raise _NotSent(e) from None

    def _connect(self) -> socket.socket:
        context = self._tls.get() if self._tls is not None else None
        sock = socket.create_connection((self._host, self._port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request is one write: send it now
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        local = self._local
        local.sock, local.generation = sock, _generation
        return sock

    def _close(self, sock: socket.socket) -> None:
        sock.close()
        if self._local.sock is sock:
            self._local.sock = None

    @staticmethod
    def _dropped(sock: socket.socket) -> bool:
        # An idle keep-alive socket that is readable has been closed by the gateway (or holds garbage).
        # poll() where there is one: select() cannot watch a descriptor above 1023, common in a busy worker.
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def _send(self, sock: socket.socket, method: str, request: bytes) -> tuple[int, bytes, str]:
        sock.sendall(request)
        # The reply is parsed by http.client (status line, headers, Content-Length or chunked, keep-alive).
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        data = response.read()
        request_id = _printable(response.getheader("X-Request-Id"), 64) or "none"
        if response.will_close:
            self._close(sock)
        return response.status, data, request_id

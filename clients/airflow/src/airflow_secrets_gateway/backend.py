"""``SecretsGatewayBackend``: Airflow's secrets backend interface over the gateway's HTTP API.

Airflow calls ``get_conn_value``, ``get_variable`` and ``get_config`` with an id; this
backend asks ``GET /v1/connections/{id}``, ``/v1/variables/{id}`` or ``/v1/config/{id}``.

* ``404 not_found`` is ``None``: Airflow goes on down its chain of backends.
* ``403`` raises :class:`SecretsGatewayAccessDenied`, which is Airflow's
  ``AirflowSecretsBackendAccessDenied`` where the installed Airflow has it, so Airflow
  stops there instead of asking a less restricted backend.
* Any other failure (5xx after the retries, a timeout, a refused connection, 401)
  raises :class:`SecretsGatewayError`; Airflow logs it and asks the next backend.

A secret value or the token never appears in a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import quote

import requests

try:  # Airflow 2.x and 3.x both export the core base class here.
    from airflow.secrets import BaseSecretsBackend
except ImportError:  # pragma: no cover - only without Airflow installed
    BaseSecretsBackend = object  # type: ignore[assignment,misc]

try:  # task-sdk >= 1.2.2 (Airflow 3.x): an authoritative deny that Airflow must not fall through.
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied as _AccessDeniedBase
except ImportError:  # Airflow 2.x, older 3.x
    _AccessDeniedBase = PermissionError  # type: ignore[assignment,misc]

__all__ = ["SecretsGatewayAccessDenied", "SecretsGatewayBackend", "SecretsGatewayError"]

log = logging.getLogger(__name__)

N = TypeVar("N", int, float)

USER_AGENT = "airflow-secrets-gateway/0.1.0"

# The task's context, for the gateway's audit log: environment variable -> header.
CONTEXT_HEADERS = {
    "AIRFLOW_CTX_DAG_ID": "X-Airflow-Dag-Id",
    "AIRFLOW_CTX_TASK_ID": "X-Airflow-Task-Id",
    "AIRFLOW_CTX_DAG_RUN_ID": "X-Airflow-Run-Id",
    "AIRFLOW_CTX_TRY_NUMBER": "X-Airflow-Try-Number",
}

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class SecretsGatewayError(Exception):
    """The gateway could not answer (unreachable, timed out, 5xx, 401, unexpected reply)."""


class SecretsGatewayAccessDenied(_AccessDeniedBase):  # type: ignore[valid-type,misc]
    """The gateway denied this token the secret (HTTP 403). Airflow does not fall through."""


# ---- One keep-alive session per process -------------------------------------
# Workers fork (Celery prefork, the Airflow 3 task supervisor), and a pooled
# connection must never be shared across a fork, so a child gets its own session.
_session: Optional[requests.Session] = None
_session_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _session, _session_lock
    _session = None
    _session_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def process_session() -> requests.Session:
    """The process's one ``requests.Session`` (HTTP keep-alive across lookups and backend instances)."""
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            # Proxies from the environment are honoured; netrc credentials are not wanted.
            session.trust_env = True
            _session = session
        return _session


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
    an HTTP client normalises ``..`` and ``.`` path segments away.
    """
    return quote(secret_id, safe="").replace(".", "%2E")


def _header_value(value: str) -> str:
    # A header carries printable ASCII only; anything else is percent-encoded.
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe="")


class _TokenSource:
    """A fixed token, or a file re-read whenever it changes (projected Kubernetes service-account tokens)."""

    def __init__(self, token: Optional[str], token_path: Optional[str]) -> None:
        if token and token_path:
            raise ValueError("SecretsGatewayBackend: give token or token_path, not both")
        self._token = token.strip() if token else None
        self._path = os.fspath(token_path) if token_path else None
        self._stamp: Optional[tuple[int, int, int]] = None
        self._lock = threading.Lock()

    def get(self) -> Optional[str]:
        if self._path is None:
            return self._token
        with self._lock:
            try:
                st = os.stat(self._path)
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
                if stamp != self._stamp:
                    with open(self._path, encoding="utf-8") as f:
                        self._token = f.read().strip()
                    self._stamp = stamp
            except OSError as e:
                raise SecretsGatewayError(f"cannot read the token file {self._path} ({e.strerror})") from None
            return self._token


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
    :param verify: verify the gateway's TLS certificate (default true).
    :param ca_bundle: a CA bundle file to verify it with.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        token_path: Optional[str] = None,
        timeout: Union[float, str] = 5.0,
        retries: Union[int, str] = 2,
        verify: Union[bool, str] = True,
        ca_bundle: Optional[str] = None,
    ) -> None:
        super().__init__()
        if not url or not str(url).startswith(("http://", "https://")):
            raise ValueError("SecretsGatewayBackend: url must be an http:// or https:// URL")
        self.url = str(url).rstrip("/")
        self._tokens = _TokenSource(token, token_path)
        self.timeout = _as_number("timeout", timeout, float, 0, exclusive=True)
        self.retries = _as_number("retries", retries, int, 0, exclusive=False)
        verify_flag = _as_bool("verify", verify)
        if ca_bundle and not verify_flag:
            raise ValueError("SecretsGatewayBackend: ca_bundle needs verify=true")
        self._verify: Union[bool, str] = ca_bundle if ca_bundle else verify_flag

    # -- Airflow's interface --
    def get_conn_value(self, conn_id: str, team_name: Optional[str] = None) -> Optional[str]:
        """The connection as the JSON document ``Connection.from_json`` reads (with ``conn_type``)."""
        body = self._get("connections", conn_id, team_name)
        if body is None:
            return None
        fields = {k: v for k, v in body.items() if k != "conn_id" and v is not None}
        return json.dumps(fields)

    def get_variable(self, key: str, team_name: Optional[str] = None) -> Optional[str]:
        body = self._get("variables", key, team_name)
        # Usually a string; a file-backed value may be any JSON value, returned as Airflow's own
        # LocalFilesystemBackend returns it.
        return None if body is None else body.get("value")

    def get_config(self, key: str) -> Optional[str]:
        body = self._get("config", key, None)
        return None if body is None else body.get("value")

    # -- HTTP --
    def _headers(self, team_name: Optional[str]) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._tokens.get()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for env_name, header in CONTEXT_HEADERS.items():
            value = os.environ.get(env_name)
            if value:
                headers[header] = _header_value(value)
        if team_name:
            headers["X-Airflow-Team-Name"] = _header_value(team_name)
        return headers

    def _get(self, kind: str, secret_id: str, team_name: Optional[str]) -> Optional[dict[str, Any]]:
        what = f"{kind[:-1] if kind != 'config' else 'config'} {secret_id!r}"
        url = f"{self.url}/v1/{kind}/{quote_id(secret_id)}"
        response = self._send(url, self._headers(team_name), what)
        request_id = response.headers.get("X-Request-Id", "-")
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise SecretsGatewayError(f"the gateway sent a reply that is not a JSON object for {what} (request {request_id})")
            return body
        code = self._problem_code(response)
        if status == 404 and code == "not_found":
            return None
        if status == 403:
            raise SecretsGatewayAccessDenied(
                f"the Secrets Gateway denied access to {what} ({code}, request {request_id}); "
                "the token is not granted this secret"
            )
        raise SecretsGatewayError(f"the Secrets Gateway answered {status} {code} for {what} (request {request_id})")

    def _send(self, url: str, headers: dict[str, str], what: str) -> requests.Response:
        session = process_session()
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._get_exact_url(session, url, headers)
            except requests.RequestException as e:
                # The exception's text may hold the URL (with the id) but never the token or a value.
                failure = f"{type(e).__name__}"
                if attempt < attempts:
                    log.warning("Secrets Gateway request for %s failed (%s); retrying (%d/%d)", what, failure, attempt, self.retries)
                    time.sleep(min(0.1 * 2 ** (attempt - 1), 2.0))
                    continue
                raise SecretsGatewayError(f"the Secrets Gateway did not answer for {what} after {attempts} attempt(s) ({failure})") from None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                log.warning(
                    "Secrets Gateway answered %d for %s (request %s); retrying (%d/%d)",
                    response.status_code, what, response.headers.get("X-Request-Id", "-"), attempt, self.retries,
                )
                response.close()
                time.sleep(min(0.1 * 2 ** (attempt - 1), 2.0))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_exact_url(self, session: requests.Session, url: str, headers: dict[str, str]) -> requests.Response:
        # requests "requotes" a URL, turning %2E back into "." (and ".." segments are then
        # dropped on the way); the prepared request's URL is set after preparation so the
        # id reaches the gateway exactly as quote_id() encoded it.
        prepared = session.prepare_request(requests.Request("GET", f"{self.url}/v1/", headers=headers))
        prepared.url = url
        settings = session.merge_environment_settings(url, {}, None, self._verify, None)
        return session.send(prepared, timeout=(self.timeout, self.timeout), allow_redirects=False, **settings)

    @staticmethod
    def _problem_code(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return "no problem document"
        code = body.get("code") if isinstance(body, dict) else None
        return code if isinstance(code, str) and code.isprintable() and len(code) <= 64 else "no code"

"""``GatewayClient``: change connections and variables through the gateway's write API from DAG code.

What Airflow's docs do with ``session.add(Connection(...))`` in the metadata database, done through the
gateway instead: scoped by the token's ``connections:write`` / ``variables:write`` grants, audited, written to
the gateway's ``writes.target`` (Vault, AWS, GCP, the metastore, or the expiring Redis overlay), and served by
every replica at once::

    from airflow.models import Connection
    from airflow_secrets_gateway import GatewayClient

    client = GatewayClient("https://secrets-gateway:8080", token_path="/var/run/secrets/gateway/token",
                           ca_bundle="/etc/gateway/ca.pem")
    written = client.set_connection(Connection(conn_id="scratch_db", conn_type="postgres", host="scratch"), ttl=3600)
    written.version, written.expires

It uses the read backend's transport (one keep-alive connection per thread, the token file re-read when
it changes, the TLS files re-read when they change, loud failures). Retries: a request that failed while
connecting never left, and is always tried again. One that may have reached the gateway (a timeout, a cut
connection, a 5xx) is tried again only if repeating it cannot do harm: a PUT (it sets the same value
again; with ``if_match`` a repeat that finds its own earlier write gets 412, never overwrites another's)
and a DELETE. A ``create_only`` PUT is not repeated (its repeat would fail with 412 against its own
create), and goes on a fresh connection; if its answer is lost, the error says the write may have landed.

A secret value or the token never appears in a log line or an exception message: messages name the id,
the HTTP status, the gateway's problem ``code`` and ``detail`` (the gateway puts no value there) and the
request id.
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass
from typing import Any, Optional, Union

from airflow_secrets_gateway.backend import (
    SecretsGatewayAccessDenied,
    SecretsGatewayBackend,
    SecretsGatewayError,
    SecretsGatewayUnavailable,
    _Failure,
    _printable,
    _problem_fields,
    quote_id,
)

__all__ = ["GatewayClient", "SecretsGatewayPreconditionFailed", "SecretsGatewayWriteRefused", "WriteResult"]

log = logging.getLogger(__name__)

CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra", "description", "uri")


class SecretsGatewayWriteRefused(SecretsGatewayError):
    """The gateway refused the write (4xx other than 403): ``status``, ``code`` (e.g. ``shadowed``,
    ``invalid_connection``, ``ttl_not_supported``, ``not_found``) and ``request_id``."""

    def __init__(self, message: str, status: int, code: str, request_id: str, problem: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.problem = problem


class SecretsGatewayPreconditionFailed(SecretsGatewayWriteRefused):
    """412: ``if_match`` named a version that is not current, or ``create_only`` found the id.
    ``current_version`` is the version the gateway holds, when it said."""

    @property
    def current_version(self) -> Optional[str]:
        value = self.problem.get("current_version")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the id, the backend that holds it now, its new ``version`` (the ``ETag`` without
    quotes: give it as ``if_match`` to the next write), whether it was ``created``, when it ``expires``
    (with a ttl), and ``fanout`` (``published``, ``unavailable`` when the other replicas were not told, ...).
    For a delete, ``version`` is None and ``deleted`` is True."""

    id: str
    backend: Optional[str]
    version: Optional[str]
    created: bool = False
    deleted: bool = False
    expires: Optional[datetime.datetime] = None
    fanout: Optional[str] = None


def _ttl_seconds(ttl: Union[int, float, datetime.timedelta, None]) -> Optional[int]:
    if ttl is None:
        return None
    if isinstance(ttl, datetime.timedelta):
        ttl = ttl.total_seconds()
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not float(ttl).is_integer() or ttl < 1:
        raise ValueError("GatewayClient: ttl must be a whole number of seconds >= 1 (or a timedelta)")
    return int(ttl)


def _entity_tag(version: str) -> str:
    """If-Match takes the ETag (``"v"``) or the bare ``X-Secret-Version`` (``v``), which is quoted here."""
    if not isinstance(version, str) or not version or not version.isascii() or not version.isprintable():
        raise ValueError("GatewayClient: if_match must be a version (printable ASCII), as WriteResult.version or the ETag")
    if version == "*" or (version.startswith('"') and version.endswith('"') and len(version) >= 2) or version.startswith('W/"'):
        return version
    if '"' in version or "," in version:
        raise ValueError("GatewayClient: if_match must be one version")
    return f'"{version}"'


def _expiry(value: Any) -> Optional[datetime.datetime]:
    if not isinstance(value, str):
        return None
    try:  # the gateway writes ISO 8601 with a Z, which datetime.fromisoformat reads from Python 3.11 on
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class GatewayClient:
    """Writes connections and variables through a Secrets Gateway (``PUT``/``DELETE /v1/connections/{id}``,
    ``/v1/variables/{key}``).

    :param url: the gateway's base URL, e.g. ``https://secrets-gateway:8080``.
    :param token_path: a file holding the bearer token (re-read whenever it changes); the token needs
        ``connections:write:<id>`` / ``variables:write:<key>`` grants.
    :param token: a bearer token, instead of ``token_path``.
    :param timeout: seconds for connecting and for reading each reply (default 10).
    :param retries: extra attempts where repeating is safe (see the module's docstring; default 2).
    :param verify: verify the gateway's TLS certificate (default true).
    :param ca_bundle: a CA bundle file to verify it with (default: the system's CAs).
    :param client_cert: a client certificate file (PEM) for mutual TLS, with ``client_key``.
    :param client_key: its private key file (PEM), if not in ``client_cert``.
    """

    def __init__(
        self,
        url: str,
        token_path: Optional[str] = None,
        *,
        token: Optional[str] = None,
        timeout: Union[float, str] = 10.0,
        retries: Union[int, str] = 2,
        verify: Union[bool, str] = True,
        ca_bundle: Optional[str] = None,
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
    ) -> None:
        try:
            self._transport = SecretsGatewayBackend(
                url=url, token=token, token_path=token_path, timeout=timeout, retries=retries, verify=verify,
                ca_bundle=ca_bundle, client_cert=client_cert, client_key=client_key,
            )
        except ValueError as e:
            raise ValueError(str(e).replace("SecretsGatewayBackend:", "GatewayClient:")) from None
        self.url = self._transport.url

    # -- Connections --
    def set_connection(
        self,
        connection: Any,
        *,
        ttl: Union[int, float, datetime.timedelta, None] = None,
        if_match: Optional[str] = None,
        create_only: bool = False,
        allow_shadowed: bool = False,
        **fields: Any,
    ) -> WriteResult:
        """Create or replace a connection: an Airflow ``Connection`` (``airflow.models.Connection`` or
        ``airflow.sdk.Connection``), or a ``conn_id`` with its fields as keywords (``conn_type``, ``host``,
        ``login``, ``password``, ``schema``, ``port``, ``extra`` (a dict or its JSON text), ``description``),
        or ``uri=`` with an optional ``description``.

        :param ttl: seconds (or a timedelta) after which the entry expires (an overlay writes target).
        :param if_match: write only over this version (a ``WriteResult.version``, a read's ``X-Secret-Version``).
        :param create_only: fail with 412 if it exists (``If-None-Match: *``).
        :param allow_shadowed: write even when an earlier backend of the chain holds the id.
        """
        if isinstance(connection, str):
            conn_id = connection
            unknown = sorted(set(fields) - set(CONNECTION_FIELDS))
            if unknown:
                raise TypeError(f"GatewayClient.set_connection: unknown field(s) {', '.join(unknown)}")
            body = {k: v for k, v in fields.items() if v is not None}
        else:
            if fields:
                raise TypeError("GatewayClient.set_connection: give a Connection or a conn_id with fields, not both")
            conn_id = getattr(connection, "conn_id", None)
            if not isinstance(conn_id, str):
                raise TypeError("GatewayClient.set_connection: give an Airflow Connection with a conn_id, or a conn_id string")
            body = {}
            for name in CONNECTION_FIELDS[:-1]:
                value = getattr(connection, name, None)
                if value is not None and value != "":
                    body[name] = value
        return self._put("connections", conn_id, "connection", body, ttl, if_match, create_only, allow_shadowed)

    def delete_connection(self, conn_id: str, *, if_match: Optional[str] = None, missing_ok: bool = False) -> Optional[WriteResult]:
        """Delete a connection from the writes target; with ``missing_ok``, None when it does not hold it."""
        return self._delete("connections", conn_id, "connection", if_match, missing_ok)

    # -- Variables --
    def set_variable(
        self,
        key: str,
        value: Any,
        *,
        serialize_json: bool = False,
        ttl: Union[int, float, datetime.timedelta, None] = None,
        if_match: Optional[str] = None,
        create_only: bool = False,
        allow_shadowed: bool = False,
    ) -> WriteResult:
        """Create or replace a variable (a string; with ``serialize_json``, any JSON value, as ``Variable.set``)."""
        if serialize_json:
            value = json.dumps(value, indent=2)
        elif not isinstance(value, str):
            raise TypeError("GatewayClient.set_variable: the value must be a string (or serialize_json=True)")
        return self._put("variables", key, "variable", {"value": value}, ttl, if_match, create_only, allow_shadowed)

    def delete_variable(self, key: str, *, if_match: Optional[str] = None, missing_ok: bool = False) -> Optional[WriteResult]:
        """Delete a variable from the writes target; with ``missing_ok``, None when it does not hold it."""
        return self._delete("variables", key, "variable", if_match, missing_ok)

    # -- The requests --
    def _put(
        self, kind: str, secret_id: str, noun: str, body: dict[str, Any],
        ttl: Any, if_match: Optional[str], create_only: bool, allow_shadowed: bool,
    ) -> WriteResult:
        if if_match is not None and create_only:
            raise ValueError("GatewayClient: if_match and create_only exclude each other")
        query = []
        seconds = _ttl_seconds(ttl)
        if seconds is not None:
            query.append(f"ttl_seconds={seconds}")
        if allow_shadowed:
            query.append("allow_shadowed=true")
        headers = ""
        if if_match is not None:
            headers += f"If-Match: {_entity_tag(if_match)}\r\n"
        if create_only:
            headers += "If-None-Match: *\r\n"
        try:
            payload = json.dumps(body).encode()
        except (TypeError, ValueError):
            # Not the error's text: it could quote a value.
            raise TypeError(f"GatewayClient: the {noun} {secret_id!r} holds a field that is not JSON") from None
        path = self._path(kind, secret_id) + ("?" + "&".join(query) if query else "")
        answer = self._send("PUT", path, f"set {noun} {secret_id!r}", payload, headers, idempotent=not create_only)
        return WriteResult(
            id=secret_id,
            backend=_printable(answer.get("backend"), 120),
            version=_printable(answer.get("version"), 500),
            created=answer.get("created") is True,
            expires=_expiry(answer.get("expires")),
            fanout=_printable(answer.get("fanout"), 40),
        )

    def _delete(self, kind: str, secret_id: str, noun: str, if_match: Optional[str], missing_ok: bool) -> Optional[WriteResult]:
        headers = f"If-Match: {_entity_tag(if_match)}\r\n" if if_match is not None else ""
        try:
            answer = self._send("DELETE", self._path(kind, secret_id), f"delete {noun} {secret_id!r}", None, headers, idempotent=True)
        except SecretsGatewayWriteRefused as refused:
            if missing_ok and refused.status == 404 and refused.code == "not_found":
                return None
            raise
        return WriteResult(
            id=secret_id, backend=_printable(answer.get("backend"), 120), version=None,
            deleted=answer.get("deleted") is not False, fanout=_printable(answer.get("fanout"), 40),
        )

    def _path(self, kind: str, secret_id: str) -> str:
        if not isinstance(secret_id, str) or not secret_id:
            raise ValueError("GatewayClient: the id must be a non-empty string")
        return self._transport._path_prefix + kind + "/" + quote_id(secret_id)

    def _send(self, method: str, path: str, what: str, body: Optional[bytes], headers: str, idempotent: bool) -> dict[str, Any]:
        transport = self._transport
        try:
            status, data, request_id, uncertain = transport._request(method, path, what, None, body, headers, idempotent)
        except _Failure as failure:
            note = "; it may have been applied (check with a read before trying again)" if failure.sent else "; nothing was sent"
            raise SecretsGatewayUnavailable(
                f"the Secrets Gateway at {self.url} could not {what}: {failure.reason} (request {failure.request_id or 'none'}){note}"
            ) from None
        if 200 <= status < 300:
            try:
                answer = json.loads(data)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise SecretsGatewayUnavailable(f"the Secrets Gateway at {self.url} gave an unreadable answer to {what} (request {request_id})")
            if answer.get("fanout") == "unavailable":
                log.warning(
                    "Secrets Gateway: %s done, but the other replicas were not told (its Redis is down): "
                    "they serve the old value until their cache TTL (request %s)", what, request_id,
                )
            return answer
        problem = _problem_fields(data, ("code", "detail", "backend", "target", "current_version", "reason"), limit=500)
        code = problem.get("code") or "no code"
        message = f"the Secrets Gateway at {self.url} refused to {what}: {SecretsGatewayBackend._status_reason(status, problem)} (request {request_id})"
        if uncertain and status in (404, 412):
            message += "; an earlier attempt whose answer was lost may have done it"
        if status == 403:
            raise SecretsGatewayAccessDenied(message + "; the token is not granted this write")
        if status == 412:
            raise SecretsGatewayPreconditionFailed(message, status, code, request_id, problem)
        if 400 <= status < 500 and status not in (401, 408, 429):
            raise SecretsGatewayWriteRefused(message, status, code, request_id, problem)
        raise SecretsGatewayUnavailable(message)

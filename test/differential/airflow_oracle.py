"""Differential-test oracle: answers with the REAL Airflow (pinned apache-airflow 3.3.2).

Reads one JSON case per line on stdin, writes one JSON answer per line on stdout,
in the same order. Cases:
  {"op": "from_uri", "uri": str}
  {"op": "from_json", "json": str}
  {"op": "deserialize", "value": str}           BaseSecretsBackend deserialization
  {"op": "from_fields", "fields": {...}}        Connection(conn_id, **fields)
  {"op": "parse_local_file", "kind": "variables"|"connections"|"configs", "file": name, "content": str}
  {"op": "url", "fn": "quote"|"quote_plus"|"unquote"|"unquote_plus"|"parse_qsl"|"urlencode"|"urlsplit"|"json_roundtrip", "arg": ...}
Every connection answer carries the fields, get_uri() and as_json() (or the error
each raised). The conn_id is always "c".
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _setup() -> None:
    home = tempfile.mkdtemp(prefix="airflow-oracle-")
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")


_setup()
_out = sys.stdout
sys.stdout = sys.stderr  # anything Airflow prints must not corrupt the answer stream

import logging  # noqa: E402

logging.disable(logging.CRITICAL)

from urllib import parse as up  # noqa: E402

from airflow.models.connection import Connection  # noqa: E402
from airflow.secrets import local_filesystem as lf  # noqa: E402
from airflow.secrets.base_secrets import BaseSecretsBackend  # noqa: E402
import airflow.models.connection as _connection_module  # noqa: E402

# The secrets masker rebuilds its pattern on every new secret, which makes a
# long batch quadratic. Masking has no effect on the answers: the argument
# `quote(self.password)` is still evaluated (and still raises) before the call.
_connection_module.mask_secret = lambda *args, **kwargs: None


def err(e: BaseException) -> dict:
    return {"ok": False, "error_type": type(e).__name__, "msg": str(e)[:300]}


def describe(value):
    """A Python value, tagged so that int/float/date are not conflated by JSON."""
    try:
        dumped = json.dumps(value)
    except (TypeError, ValueError):
        dumped = None
    return {"type": type(value).__name__, "json": dumped}


def conn_answer(make) -> dict:
    try:
        c = make()
    except BaseException as e:  # noqa: BLE001 - the oracle reports every failure
        return err(e)
    ans = {"ok": True, "conn": conn_fields(c)}
    try:
        ans["get_uri"] = c.get_uri()
    except BaseException as e:  # noqa: BLE001
        ans["get_uri_error"] = type(e).__name__
    try:
        ans["as_json"] = c.as_json()
    except BaseException as e:  # noqa: BLE001
        ans["as_json_error"] = type(e).__name__
    return ans


def conn_fields(c) -> dict:
    fields = {}
    for k in ("conn_type", "description", "host", "login", "password", "schema", "port", "extra"):
        v = getattr(c, k)
        fields[k] = v if v is None or isinstance(v, (str, int)) and not isinstance(v, bool) else describe(v)
    return fields


def parse_local(case: dict) -> dict:
    d = tempfile.mkdtemp(prefix="airflow-oracle-file-")
    path = os.path.join(d, case["file"])
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(case["content"])
    try:
        kind = case["kind"]
        if kind == "variables":
            result = lf.load_variables(path)
            return {"ok": True, "values": {k: describe(v) for k, v in result.items() if isinstance(k, str)}}
        if kind == "configs":
            result = lf.load_configs_dict(path)
            return {"ok": True, "values": {k: describe(v) for k, v in result.items() if isinstance(k, str)}}
        result = lf.load_connections_dict(path)
        conns = {}
        for k, c in result.items():
            if not isinstance(k, str):
                continue
            entry = {"conn": conn_fields(c)}
            try:
                entry["get_uri"] = c.get_uri()
            except BaseException as e:  # noqa: BLE001
                entry["get_uri_error"] = type(e).__name__
            conns[k] = entry
        return {"ok": True, "connections": conns}
    except BaseException as e:  # noqa: BLE001
        ans = err(e)
        ans["msg"] = ans["msg"].replace(path, case["file"])
        parse_errors = getattr(e, "parse_errors", None)
        if parse_errors:
            ans["lines"] = [pe.line_no for pe in parse_errors]
            ans["messages"] = [pe.message for pe in parse_errors if "yaml" not in case["file"].lower() and "yml" not in case["file"].lower()]
        return ans


def url(case: dict) -> dict:
    fn, arg = case["fn"], case["arg"]
    try:
        if fn == "quote":
            return {"ok": True, "value": up.quote(arg, safe="")}
        if fn == "quote_plus":
            return {"ok": True, "value": up.quote_plus(arg)}
        if fn == "unquote":
            return {"ok": True, "value": up.unquote(arg)}
        if fn == "unquote_plus":
            return {"ok": True, "value": up.unquote_plus(arg)}
        if fn == "parse_qsl":
            return {"ok": True, "value": up.parse_qsl(arg, keep_blank_values=True)}
        if fn == "urlencode":
            return {"ok": True, "value": up.urlencode(dict(arg))}
        if fn == "urlsplit":
            p = up.urlsplit(arg)
            try:
                port = p.port
            except ValueError:
                port = "ValueError"
            return {
                "ok": True,
                "value": [p.scheme, p.netloc, p.path, p.query, p.fragment, p.username, p.password, p.hostname, port],
            }
        if fn == "json_roundtrip":
            return {"ok": True, "value": json.dumps(json.loads(arg))}
    except BaseException as e:  # noqa: BLE001
        return err(e)
    return {"ok": False, "error_type": "UnknownFn", "msg": fn}


def answer(case: dict) -> dict:
    op = case["op"]
    if op == "from_uri":
        return conn_answer(lambda: Connection(conn_id="c", uri=case["uri"]))
    if op == "from_json":
        return conn_answer(lambda: Connection.from_json(case["json"], conn_id="c"))
    if op == "deserialize":
        return conn_answer(lambda: BaseSecretsBackend._deserialize_connection_value(Connection, "c", case["value"]))
    if op == "from_fields":
        return conn_answer(lambda: Connection(conn_id="c", **case["fields"]))
    if op == "parse_local_file":
        return parse_local(case)
    if op == "url":
        return url(case)
    return {"ok": False, "error_type": "UnknownOp", "msg": op}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        _out.write(json.dumps(answer(case)) + "\n")
    _out.flush()


if __name__ == "__main__":
    main()

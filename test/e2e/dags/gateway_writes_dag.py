"""The Python write client in a real task (issue 17 point 5): `write_override` points `scratch_db` at a
scratch database for a while (an overlay entry with a ttl, what `session.add(Connection(...))` would do in
the metastore), `read_override` reads it as any task does (BaseHook, Variable: through the secrets
backend), `remove_override` deletes it, and `read_underneath` sees the connection underneath again.
What each task got goes to $SG_E2E_OUTPUT (one JSON object per task, by task id)."""

import json
import os

import pendulum
from airflow.sdk import BaseHook, Connection, Variable, dag, task

from airflow_secrets_gateway import GatewayClient


def _client() -> GatewayClient:
    return GatewayClient(os.environ["SG_GATEWAY_URL"], token_path=os.environ["SG_WRITE_TOKEN_FILE"])


def _record(task_id: str, value: dict) -> None:
    path = os.environ["SG_E2E_OUTPUT"]
    seen = json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {}
    seen[task_id] = value
    with open(path, "w", encoding="utf-8") as f:
        json.dump(seen, f)


def _conn_fields(conn_id: str) -> dict:
    conn = BaseHook.get_connection(conn_id)
    return {"conn_type": conn.conn_type, "host": conn.host, "login": conn.login, "password": conn.password,
            "schema": conn.schema, "port": conn.port, "extra": conn.extra_dejson}


@dag(dag_id="gateway_writes", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def gateway_writes():
    @task(task_id="write_override")
    def write_override() -> dict:
        client = _client()
        written = client.set_connection(
            Connection(conn_id="scratch_db", conn_type="postgres", host="scratch.internal", login="etl",
                       password=os.environ["SG_E2E_PASSWORD"], schema="scratch", port=6432,
                       extra=json.dumps({"sslmode": "require"})),
            ttl=600,
        )
        flag = client.set_variable("scratch_flag", "on", ttl=600, create_only=True)
        result = {"version": written.version, "created": written.created, "backend": written.backend,
                  "expires": written.expires.isoformat() if written.expires else None, "flag_version": flag.version}
        _record("write_override", result)
        return result

    @task(task_id="read_override")
    def read_override(written: dict) -> None:
        _record("read_override", {"conn": _conn_fields("scratch_db"), "variable": Variable.get("scratch_flag"),
                                  "xcom_version": written["version"]})

    @task(task_id="remove_override")
    def remove_override(written: dict) -> None:
        client = _client()
        deleted = client.delete_connection("scratch_db", if_match=written["version"])
        gone = client.delete_variable("scratch_flag")
        _record("remove_override", {"deleted": [deleted.deleted, gone.deleted],
                                    "again": client.delete_variable("scratch_flag", missing_ok=True)})

    @task(task_id="read_underneath")
    def read_underneath() -> None:
        _record("read_underneath", {"conn": _conn_fields("scratch_db"), "variable": Variable.get("scratch_flag", default=None)})

    written = write_override()
    read = read_override(written)
    removed = remove_override(written)
    read >> removed >> read_underneath()


gateway_writes()

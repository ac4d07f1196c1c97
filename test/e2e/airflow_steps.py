"""Steps of the end-to-end test that run inside real Airflow, batched into few processes.

    python airflow_steps.py seed-metastore   # `airflow connections add` / `variables set` (the CLI's own
                                             # code, in one process), then Airflow's MetastoreBackend view
    python airflow_steps.py metastore-view IDS_JSON
    python airflow_steps.py worker-reads IDS_JSON    # through the configured secrets backends (the gateway)

Each prints one JSON document on the last line of stdout.
"""

from __future__ import annotations

import json
import sys


def run_cli(*argv: str) -> None:
    """What the `airflow` command does with argv, without starting a new Python."""
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(list(argv))
    args.func(args)


def connection_fields(conn) -> dict | None:
    if conn is None:
        return None
    return {
        "conn_type": conn.conn_type, "description": conn.description, "host": conn.host, "login": conn.login,
        "password": conn.password, "schema": conn.schema, "port": conn.port, "extra": conn.extra,
        "uri": conn.get_uri(),
    }


def metastore_view(ids: dict) -> dict:
    from airflow.secrets.metastore import MetastoreBackend

    backend = MetastoreBackend()
    return {
        "connections": {c: connection_fields(backend.get_connection(c)) for c in ids["connections"]},
        "variables": {v: backend.get_variable(v) for v in ids["variables"]},
    }


SEED = [
    ("connections", "add", "meta_pg", "--conn-uri",
     "postgresql://user%40corp:p%40ss%2Fw0rd@db.internal:5432/warehouse?sslmode=require&application_name=etl"),
    ("connections", "add", "meta.json-conn", "--conn-json",
     json.dumps({"conn_type": "http", "host": "api.example", "password": "tok3n", "description": "REST API ✓",
                 "extra": {"verify": False, "n": [1, 2.5], "nested": {"k": None}}})),
    ("connections", "add", "meta_nopass", "--conn-type", "ftp", "--conn-host", "files.example", "--conn-port", "21"),
    ("variables", "set", "meta_var", "s3cret value ✓"),
    ("variables", "set", "meta/empty", ""),
    ("variables", "set", "meta_json", '{"a": [1, 2]}'),
]


def main() -> None:
    step = sys.argv[1]
    def failure_kind(e: Exception) -> str:
        # The client's denial is a subclass of Airflow's; report it by Airflow's name.
        from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

        return "AirflowSecretsBackendAccessDenied" if isinstance(e, AirflowSecretsBackendAccessDenied) else type(e).__name__

    if step == "seed-metastore":
        for argv in SEED:
            run_cli(*argv)
        result: object = {"seeded": len(SEED)}
    elif step == "metastore-view":
        result = metastore_view(json.loads(sys.argv[2]))
    elif step == "worker-reads":
        from airflow.sdk import BaseHook, Variable

        ids = json.loads(sys.argv[2])
        conns = {}
        for c in ids["connections"]:
            try:
                conns[c] = connection_fields(BaseHook.get_connection(c))
            except Exception as e:  # noqa: BLE001 - the test compares the failure's kind
                conns[c] = {"error": failure_kind(e)}
        variables = {}
        for v in ids["variables"]:
            try:
                variables[v] = Variable.get(v, default=None)
            except Exception as e:  # noqa: BLE001
                variables[v] = {"error": failure_kind(e)}
        result = {"connections": conns, "variables": variables}
    else:
        raise SystemExit(f"unknown step {step}")
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()

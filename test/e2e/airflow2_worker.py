"""Reads connections and variables the way Airflow 2.x task code does, through
whatever secrets backend the environment configures, and prints what it got as
the last line (JSON). Used by airflow2.test.ts with a real Airflow 2.10."""

import json
import sys

from airflow.exceptions import AirflowNotFoundException
from airflow.models import Connection, Variable


def main() -> None:
    ids = json.loads(sys.argv[1])
    connections: dict[str, object] = {}
    for conn_id in ids["connections"]:
        try:
            c = Connection.get_connection_from_secrets(conn_id)
        except AirflowNotFoundException:
            connections[conn_id] = {"error": "AirflowNotFoundException"}
            continue
        connections[conn_id] = {
            "conn_type": c.conn_type,
            "host": c.host,
            "login": c.login,
            "password": c.password,
            "schema": c.schema,
            "port": c.port,
            "extra": c.extra_dejson,
        }
    variables = {key: Variable.get(key, default_var=None) for key in ids["variables"]}
    print("\n" + json.dumps({"connections": connections, "variables": variables}))


if __name__ == "__main__":
    main()

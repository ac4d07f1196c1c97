"""A one-task DAG for the end-to-end test: the task reads a connection and a variable
(which only the Secrets Gateway has) and writes what it got to $SG_E2E_OUTPUT."""

import json
import os

import pendulum
from airflow.sdk import BaseHook, Variable, dag, task


@dag(dag_id="gateway_e2e", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def gateway_e2e():
    @task(task_id="read_secrets")
    def read_secrets():
        conn = BaseHook.get_connection("gw_db")
        out = {
            "conn": {"conn_type": conn.conn_type, "host": conn.host, "login": conn.login, "password": conn.password,
                     "schema": conn.schema, "port": conn.port, "extra": conn.extra_dejson},
            "variable": Variable.get("gw_var"),
        }
        with open(os.environ["SG_E2E_OUTPUT"], "w", encoding="utf-8") as f:
            json.dump(out, f)

    read_secrets()


gateway_e2e()

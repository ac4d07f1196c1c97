"""DAGs for the end-to-end test of the client's failure behaviour and its opt-in batch.

gateway_failure: the task reads a connection and records what it got (or what it raised), then
                 re-raises, so the run fails as a user's task would.
gateway_batch:   the task declares its ids with prefetch() (one POST /v1/lookup), then reads them.
Each writes what it saw to $SG_E2E_OUTPUT.
"""

import json
import os
import time

import pendulum
from airflow.sdk import BaseHook, Variable, dag, task

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _write(result: dict) -> None:
    with open(os.environ["SG_E2E_OUTPUT"], "w", encoding="utf-8") as f:
        json.dump(result, f)


@dag(dag_id="gateway_failure", schedule=None, start_date=START, catchup=False)
def gateway_failure():
    @task(task_id="read_conn")
    def read_conn():
        try:
            conn = BaseHook.get_connection("gw_db")
        except Exception as e:
            _write({"error": [c.__name__ for c in type(e).__mro__], "message": str(e)})
            raise
        _write({"host": conn.host})

    read_conn()


@dag(dag_id="gateway_batch", schedule=None, start_date=START, catchup=False)
def gateway_batch():
    @task(task_id="read_batch")
    def read_batch():
        from airflow_secrets_gateway import prefetch

        conn_ids = json.loads(os.environ["SG_E2E_CONN_IDS"])
        var_ids = json.loads(os.environ["SG_E2E_VAR_IDS"])
        started = time.perf_counter()
        answered = prefetch(connections=conn_ids, variables=var_ids)
        connections = {c: BaseHook.get_connection(c).password for c in conn_ids}
        variables = {v: Variable.get(v) for v in var_ids}
        elapsed_ms = (time.perf_counter() - started) * 1000
        _write({"answered": answered, "connections": connections, "variables": variables, "elapsed_ms": elapsed_ms})

    read_batch()


gateway_failure()
gateway_batch()

"""The staging DAG (test/staging/): every task instance reads a few connections and variables
through the normal hooks, as real task code does, and pushes to XCom a *fingerprint* of what
it saw (a short SHA-256 digest), never a value.

After its first reads a task keeps reading for SG_STAGING_HOLD_SECONDS, as a busy task would,
so that a gateway replica killed mid-run dies while tasks are reading through it. Any read
that fails fails the task (retries=0): the test counts failed task instances.
"""

import hashlib
import os
import time

import pendulum
from airflow.sdk import BaseHook, Variable, dag, task

CONNECTIONS = ["stg_warehouse", "stg_api"]
VARIABLES = ["stg_api_key", "stg_region"]
TASKS_PER_RUN = int(os.environ.get("SG_STAGING_TASKS_PER_RUN", "10"))
HOLD_SECONDS = float(os.environ.get("SG_STAGING_HOLD_SECONDS", "1"))


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def read_all() -> dict:
    seen = {}
    for conn_id in CONNECTIONS:
        conn = BaseHook.get_connection(conn_id)
        seen[conn_id] = fingerprint(conn.password or "")
    for key in VARIABLES:
        seen[key] = fingerprint(Variable.get(key))
    return seen


@dag(
    dag_id="staging_secrets",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    default_args={"retries": 0},
)
def staging_secrets():
    @task(task_id="read_secrets")
    def read_secrets(index: int) -> dict:
        started = time.time()
        first = read_all()
        first_read_done = time.time()
        last = first
        reads = 1
        while time.time() < started + HOLD_SECONDS:
            time.sleep(0.05)
            last = read_all()
            reads += 1
        return {
            "index": index,
            "worker": os.environ.get("SG_STAGING_WORKER", "?"),
            "started": started,
            "first_read_done": first_read_done,
            "finished": time.time(),
            "reads": reads,
            "first": first,
            "last": last,
        }

    read_secrets.expand(index=list(range(TASKS_PER_RUN)))


staging_secrets()

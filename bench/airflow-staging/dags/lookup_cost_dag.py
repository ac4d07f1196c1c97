"""The bench's DAG (bench/airflow-staging/run.ts): each of 10 mapped task instances, a fresh task
process on a Celery worker, calls BaseHook.get_connection 50 times over ten connections (500 lookups
a DAG run) through whatever secrets backend the worker is configured with, and pushes its timings
(never a value) to XCom. The first lookup of the process is timed apart: it builds the backend and
opens its connection, which is what every fresh task process (a KubernetesExecutor pod) pays."""

import time

import pendulum
from airflow.sdk import BaseHook, dag, task

IDS = [f"bench_{i}" for i in range(10)]
LOOKUPS_PER_TASK = 50


@dag(dag_id="lookup_cost", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     max_active_runs=1, default_args={"retries": 0})
def lookup_cost():
    @task(task_id="lookups")
    def lookups(index: int) -> dict:
        clock = time.perf_counter
        t0 = clock()
        conn = BaseHook.get_connection(IDS[index % len(IDS)])
        first_ms = (clock() - t0) * 1000
        samples = []
        for i in range(1, LOOKUPS_PER_TASK):
            t0 = clock()
            conn = BaseHook.get_connection(IDS[(index + i) % len(IDS)])
            samples.append((clock() - t0) * 1000)
        assert conn.password, "a lookup found no password"
        return {"first_ms": first_ms, "samples_ms": samples}

    lookups.expand(index=list(range(10)))


lookup_cost()

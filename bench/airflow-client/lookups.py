"""Inside a real Airflow process: time BaseHook.get_connection (the Task SDK's path, as task code calls it)
through whatever secrets backend the environment configures. Prints one JSON document.

    python lookups.py MODE IDS_JSON ROUNDS PER_ROUND     (ROUNDS 0: only the first lookup)

MODE names the figure only (the environment configures Airflow). With MODE gateway-batch, each
sample is one prefetch() of all the ids and one get_connection of each (one task's worth).
"""

from __future__ import annotations

import json
import os
import sys
import time


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    mode, ids, rounds, per_round = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    started = time.perf_counter()
    from airflow.sdk import BaseHook

    imported = time.perf_counter()
    first = BaseHook.get_connection(ids[0])  # the first lookup of a fresh process: backends built, connection opened
    first_ms = (time.perf_counter() - imported) * 1000
    assert first.password, "the first lookup found no password"

    clock = time.perf_counter
    result: dict[str, object] = {"mode": mode, "import_ms": (imported - started) * 1000, "first_lookup_ms": first_ms}
    if rounds == 0:  # only the first lookup of a fresh process
        print(json.dumps(result))
        return
    if mode == "gateway-batch":
        from airflow_secrets_gateway import backend as gw

        os.environ.setdefault("AIRFLOW_CTX_TRY_NUMBER", "1")
        samples = []
        for _ in range(rounds * per_round // len(ids) + 20):
            gw._prefetched.clear()  # each sample is a new task try: nothing kept from the last one
            t0 = clock()
            gw.prefetch(connections=ids)
            for conn_id in ids:
                BaseHook.get_connection(conn_id)
            samples.append((clock() - t0) * 1000)
        samples = samples[20:]
        result.update(batch_size=len(ids), samples=len(samples), p50_ms=percentile(samples, 50), p99_ms=percentile(samples, 99))
    else:
        for conn_id in ids * 50:  # warm: every id through the whole path, and the interpreter's caches
            BaseHook.get_connection(conn_id)
        round_p50s, samples = [], []
        for _ in range(rounds):
            this_round = []
            for i in range(per_round):
                t0 = clock()
                conn = BaseHook.get_connection(ids[i % len(ids)])
                this_round.append((clock() - t0) * 1000)
            assert conn.password
            round_p50s.append(percentile(this_round, 50))
            samples += this_round
        result.update(samples=len(samples), p50_ms=percentile(samples, 50), p99_ms=percentile(samples, 99), round_p50s_ms=round_p50s)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

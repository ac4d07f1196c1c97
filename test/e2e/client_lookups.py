"""Reads ids from stdin, one JSON line each ({"kind": "variable", "id": "x"}), and answers each with one JSON line
on stdout, through one SecretsGatewayBackend whose kwargs are argv[1]: a long-lived worker process, so a test can
restart the gateway between two lookups."""

import json
import sys

from airflow_secrets_gateway import SecretsGatewayBackend


def main() -> None:
    backend = SecretsGatewayBackend(**json.loads(sys.argv[1]))
    for line in sys.stdin:
        ask = json.loads(line)
        try:
            value = backend.get_variable(ask["id"]) if ask["kind"] == "variable" else backend.get_conn_value(ask["id"])
            answer = {"value": value}
        except Exception as e:  # noqa: BLE001 - the test reports what was raised
            answer = {"error": type(e).__name__, "message": str(e)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

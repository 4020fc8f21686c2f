#!/usr/bin/env bash
# Builds the Go programs the tests run as independent clients, from the Go module proxy, into
# .toolchain/go/bin (reused until .toolchain/ is deleted):
#   grpcurl    lists, describes and calls the API through its gRPC server reflection
#              (ts/api/grpc-reflection.test.ts)
# A tool already there at the version below is left as it is; a different version is rebuilt.
# The first build takes about 2.5 minutes on 2 cores; it is niced, as the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPCURL_VERSION=v1.9.3

BIN="$PWD/.toolchain/go/bin"
mkdir -p "$BIN"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi

# grpcurl prints the version its build was given (main.version), as its release builds set it.
if [ "$("$BIN/grpcurl" -version 2>&1)" != "grpcurl $GRPCURL_VERSION" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "go-tools: no go command; install Go 1.21 or later and run again" >&2
    exit 1
  fi
  echo "go-tools: building grpcurl $GRPCURL_VERSION"
  start=$(date +%s)
  tmp=$(mktemp -d)
  GOBIN="$tmp" CGO_ENABLED=0 nice -n 10 go install -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=$GRPCURL_VERSION" \
    "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  mv "$tmp/grpcurl" "$BIN/grpcurl"
  rmdir "$tmp"
  echo "go-tools: grpcurl $GRPCURL_VERSION ready in $(( $(date +%s) - start )) s"
fi

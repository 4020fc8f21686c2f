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

. scripts/go-install.sh

# grpcurl prints the version its build was given (main.version), as its release builds set it.
if [ "$("$BIN/grpcurl" -version 2>&1)" != "grpcurl $GRPCURL_VERSION" ]; then
  go_install go-tools "$BIN" grpcurl "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" "-X main.version=$GRPCURL_VERSION"
fi

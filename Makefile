# One entry point for people and CI. `make demo` and `make test` install what they need.
.PHONY: all deps system-deps go-tools deploy-tools platforms build demo test test-rust test-ts test-node-lts bench fuzz fmt fmt-check lint check clean

all: build

# `npm install` honours the lock file; `npm ci` would refuse it, as optional platform packages
# of chdb and buf for other systems cannot be resolved from every registry.
node_modules: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch node_modules

deps: node_modules

# Debian packages the transport and live capture tests use (apt, as root or with sudo).
system-deps:
	scripts/system-packages.sh

# Go programs the tests run as independent clients (grpcurl), built into .toolchain/go/bin.
go-tools:
	scripts/go-tools.sh

# helm and the Compose CLI (built from the Go module proxy) and kubernetes-validate (PyPI), which
# ts/deploy/deployments.test.ts checks the chart and compose.yaml with, in .toolchain/deploy.
deploy-tools:
	scripts/deploy-tools.sh

build: deps
	npm run build

# Generate a synthetic capture with NetSpectra's own traffic generator and analyse it.
demo: build
	node dist/ts/cli/main.js demo

test-rust: system-deps
	cargo test --workspace --locked

# The addon of every platform package (glibc 2.17 and musl, x64 and arm64; zig as the linker),
# which the install test packs and loads (arm64 under qemu).
platforms: deps
	npm run build:platforms

test-ts: build platforms system-deps go-tools deploy-tools
	npm run test:ts

# The command line, API, store, analysis and backends again on Node 22 and 24 LTS.
test-node-lts: build system-deps go-tools
	node scripts/test-node-lts.mjs

test: test-rust test-ts test-node-lts

bench: build system-deps
	scripts/bench-packages.sh
	cargo bench -p netspectra-core --bench decode_table
	npm run bench

# Runs the capture/decode fuzz target for FUZZ_SECONDS (needs the nightly toolchain).
FUZZ_SECONDS ?= 300
fuzz:
	cd fuzz && cargo +nightly fuzz run capture_decode -- -max_total_time=$(FUZZ_SECONDS)

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

lint: deps
	cargo clippy --workspace --all-targets --locked -- -D warnings
	npx tsc -p tsconfig.json --noEmit

check: fmt-check lint test
	@git diff --exit-code --stat

clean:
	cargo clean
	rm -rf dist native/*.node native/binding.* wasm artifacts .netspectra

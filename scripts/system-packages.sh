#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: nats-server (transport tests),
# libpcap (live capture, loaded at run time), tcpreplay, tcpdump and iproute2 (the live capture
# test on a veth pair), chromium (the web console test, driven by playwright-core), tshark (the
# server-name oracle, crates/core/tests/names_oracle.rs), libndpi-bin (ndpiReader, the second
# one), qemu-user with arm64's C libraries (the arm64 platform package runs under qemu in the
# install test). Does nothing
# when they are present. Other packages can be named as arguments (scripts/bench-packages.sh).
set -euo pipefail
PACKAGES="${*:-nats-server libpcap0.8 tcpreplay tcpdump iproute2 chromium fonts-dejavu-core tshark libndpi-bin qemu-user libc6-arm64-cross libstdc++6-arm64-cross}"
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing:$missing"
$SUDO apt-get update -qq || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing

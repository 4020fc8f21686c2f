#!/usr/bin/env bash
# Installs what the benchmark compares with and measures by: tshark (conversation statistics
# beside analyze) and GNU time (peak memory of each run). Does nothing when they are present.
set -euo pipefail
PACKAGES="tshark time"
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing:$missing"
$SUDO apt-get update -qq || true
# tshark asks whether non-root users may capture: the default (no) is fine here.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing

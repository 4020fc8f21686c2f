#!/usr/bin/env bash
# Installs what the benchmark compares with and measures by: tshark (conversation statistics
# beside analyze), nDPI's ndpiReader (names beside analyze's) and GNU time (peak memory of each
# run). Does nothing when they are present.
# (tshark asks whether non-root users may capture: the noninteractive default, no, is fine.)
set -euo pipefail
exec "$(dirname "$0")/system-packages.sh" tshark time libndpi-bin

#!/usr/bin/env bash
# Pretest: the metrics and dashboard tests run Debian's prometheus and promtool. Install them when missing.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
how="install Debian's prometheus package (as root: apt-get update && apt-get install -y prometheus), then run npm test again"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-prometheus: prometheus/promtool not found and apt-get is not available: $how" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "ensure-prometheus: prometheus/promtool not found and this user cannot install packages: $how" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "ensure-prometheus: installing Debian's prometheus package (needed by the metrics and dashboard tests)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends prometheus; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-prometheus: the install failed: $how" >&2
  exit 1
fi
rm -f "$log"
# The package may start a service on machines with an init system; the tests run their own process.
command -v promtool >/dev/null 2>&1 || { echo "ensure-prometheus: promtool still missing after install: $how" >&2; exit 1; }

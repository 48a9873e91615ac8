#!/usr/bin/env bash
# Pretest: the metrics and dashboard tests run Debian's prometheus and promtool; the browser test runs Debian's
# chromium (/usr/bin/chromium, through playwright-core). Install the missing ones with apt-get, or fail saying how.
set -euo pipefail
packages=()
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then packages+=(prometheus); fi
if [ ! -x /usr/bin/chromium ]; then packages+=(chromium); fi
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
how="install Debian's ${packages[*]} package(s) (as root: apt-get update && apt-get install -y ${packages[*]}), then run npm test again"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-tools: ${packages[*]} not found and apt-get is not available: $how" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "ensure-test-tools: ${packages[*]} not found and this user cannot install packages: $how" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "ensure-test-tools: installing Debian's ${packages[*]} (prometheus: metrics and dashboard tests; chromium: browser test)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-test-tools: the install failed: $how" >&2
  exit 1
fi
rm -f "$log"
# The prometheus package may start a service on machines with an init system; the tests run their own process.
command -v promtool >/dev/null 2>&1 || { echo "ensure-test-tools: promtool still missing after install: $how" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "ensure-test-tools: /usr/bin/chromium still missing after install: $how" >&2; exit 1; }

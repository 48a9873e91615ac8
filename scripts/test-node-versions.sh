#!/usr/bin/env bash
# The smoke subset of the suite on each Node major of the README's compatibility table besides the machine's own.
# Each Node comes from npm (the node-linux-<arch> package, an official build) into node_modules/.cache/node-versions/,
# once; the subset then runs with that Node first on PATH (tap starts its test processes with it).
# NODE_MAJORS overrides the list ("22 24" by default).
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "test-node-versions: no official Node build for $(uname -m)" >&2; exit 1 ;;
esac
if [ "$(uname -s)" != Linux ]; then echo "test-node-versions: Linux only" >&2; exit 1; fi
majors=${NODE_MAJORS:-"22 24"}
# The plugin end to end, the startup check, request-time errors, the CLI, the reaper and the fast transport.
tests=(
  test/plugin.test.ts test/store/verify.test.ts test/request-errors.test.ts test/cli/main.test.ts test/cli/init.test.ts
  test/reaper/reaper.test.ts test/transport/faults.test.ts
)
for test in "${tests[@]}"; do [ -f "$test" ] || { echo "test-node-versions: $test is missing" >&2; exit 1; }; done
status=0
for major in $majors; do
  dir=node_modules/.cache/node-versions/$major
  bin=$dir/node_modules/node-linux-$arch/bin
  if [ ! -x "$bin/node" ]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >/dev/null
  fi
  bin=$(cd "$bin" && pwd)
  echo "::: Node $("$bin/node" --version)"
  if ! PATH="$bin:$PATH" "$bin/node" node_modules/.bin/tap --disable-coverage "${tests[@]}"; then status=1; fi
done
exit "$status"

#!/usr/bin/env bash
# The README's path for a new user, end to end, from the packed package: pack this repository, install the tarball
# into an empty `npm init -y` project (CommonJS, as npm makes it) with fastify and dynalite, run
# `npx dynamo-session local`, start the shipped examples/basic.mjs as copied with only the exported variable, then
# log in, read and log out with curl. Installs prefer the local npm cache (--prefer-offline).
# Ends with one line "N passed, N failed" (one check per step); exit status 0 only when all passed.
# Bounded: every wait has a deadline, and the processes it started are stopped (by their pid) on exit.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dynamo-session-new-user.XXXXXX")
pids=()
# Each started command leads a process group of its own (setsid): npx does not pass SIGTERM on to the bin it runs,
# so the group (that command and its children, nothing else) is what gets stopped.
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null; done
  # At most 10 s for them to stop, then SIGKILL to whatever of a group is left.
  local deadline=$((SECONDS + 10)) pid
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check <description> <command...>
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $what"
  else
    failed=$((failed + 1))
    echo "FAILED: $what"
    return 1
  fi
}
finish() {
  echo "${passed} passed, ${failed} failed"
  [ "$failed" -eq 0 ]
  exit $?
}

# Waits (at most $2 seconds) until file $1 has a line matching $3; prints the first such line.
wait_for_line() {
  local file=$1 seconds=$2 pattern=$3 line
  local deadline=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    line=$(grep -m 1 -E "$pattern" "$file" 2>/dev/null) && { printf '%s\n' "$line"; return 0; }
    sleep 0.2
  done
  echo "timed out waiting for /$pattern/ in $file:" >&2
  cat "$file" >&2
  return 1
}

pack() {
  (cd "$root" && timeout 300 npm pack --silent --pack-destination "$work" >"$work/pack.out" 2>"$work/pack.err") || { cat "$work/pack.err" >&2; return 1; }
  tarball="$work/$(tail -n 1 "$work/pack.out")"
  [ -f "$tarball" ]
}
install() {
  mkdir -p "$work/app" && cd "$work/app" || return 1
  timeout 60 npm init -y >/dev/null &&
    timeout 600 npm install --prefer-offline --no-audit --no-fund "$tarball" fastify >"$work/install.log" 2>&1 &&
    timeout 600 npm install --prefer-offline --no-audit --no-fund -D dynalite >>"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; return 1; }
}
start_local() {
  setsid npx dynamo-session local --port 0 >"$work/local.out" 2>"$work/local.err" &
  pids+=("$!")
  local line
  line=$(wait_for_line "$work/local.out" 120 '^export AWS_ENDPOINT_URL_DYNAMODB=') || return 1
  endpoint=${line#export AWS_ENDPOINT_URL_DYNAMODB=}
}
start_app() {
  cp node_modules/fastify-dynamo-session/examples/basic.mjs app.mjs || return 1
  # A shell with only the exported variable: no region, no credentials, no AWS configuration files.
  setsid env -i PATH="$PATH" HOME="$work" AWS_ENDPOINT_URL_DYNAMODB="$endpoint" PORT=0 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="${AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:-}" \
    node app.mjs >"$work/app.log" 2>&1 &
  pids+=("$!")
  local line
  line=$(wait_for_line "$work/app.log" 60 'Server listening at http://127\.0\.0\.1:[0-9]+') || return 1
  url=$(printf '%s' "$line" | grep -oE 'http://127\.0\.0\.1:[0-9]+' | head -n 1)
}
request() { # request <method> <path> [json body]: the response body, with the cookie jar of this "browser"
  local args=(-sS --max-time 10 -c "$work/jar" -b "$work/jar" -X "$1" "$url$2")
  [ $# -ge 3 ] && args+=(-H 'content-type: application/json' -d "$3")
  curl "${args[@]}"
}
expect() { # expect <expected> <actual>
  [ "$1" = "$2" ] || { echo "  expected $1, got $2" >&2; return 1; }
}

check "npm pack" pack || finish
check "install the tarball, fastify and dynalite into a new npm init -y project" install || finish
check "npx dynamo-session local prints the line to export" start_local || finish
check "the copied examples/basic.mjs starts with only AWS_ENDPOINT_URL_DYNAMODB set" start_app || finish
check "log in" expect '{"user":"ada"}' "$(request POST /login '{"user":"ada"}')"
check "read the session" expect '{"user":"ada","visits":1}' "$(request GET /)"
check "log out" expect '{"user":null}' "$(request POST /logout)"
check "logged out afterwards" expect '{"user":null,"visits":1}' "$(request GET /)"
finish

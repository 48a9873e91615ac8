#!/usr/bin/env bash
# Runs the whole test suite against a moto server (an independent DynamoDB implementation) started here on
# 127.0.0.1 and stopped at the end. Extra arguments go to tap (e.g. a test file).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import moto.server, werkzeug' >/dev/null 2>&1; then
  echo "test-moto: python3 cannot import moto.server: install it (pip install 'moto[server]>=5.2', or Debian's python3-moto plus python3-flask python3-flask-cors), then run npm run test:moto again" >&2
  exit 1
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log=$(mktemp)
# moto's server with its requests applied one at a time (see scripts/moto-server.py for why).
python3 scripts/moto-server.py 127.0.0.1 "$port" >"$log" 2>&1 &
moto_pid=$!
# SIGTERM, then SIGKILL when the server (with a run's worth of tables in memory) has not exited 30 s later.
stop() {
  kill "$moto_pid" 2>/dev/null
  for _ in $(seq 1 150); do
    kill -0 "$moto_pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -9 "$moto_pid" 2>/dev/null
  wait "$moto_pid" 2>/dev/null
  rm -f "$log"
}
trap stop EXIT
# Wait (up to 60 s) until moto answers HTTP.
for _ in $(seq 1 300); do
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    cat "$log" >&2
    echo "test-moto: the moto server exited before answering on 127.0.0.1:$port" >&2
    exit 1
  fi
  if python3 -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "${ready:-}" ]; then
  echo "test-moto: the moto server did not answer on 127.0.0.1:$port within 60 s" >&2
  exit 1
fi
echo "test-moto: moto $(python3 -c 'import moto; print(moto.__version__)') on http://127.0.0.1:$port" >&2
# Coverage is measured on the dynalite run (npm test); files get more time here: moto answers each call several
# times slower than dynalite, one call at a time for the whole run.
DYNAMO_SESSION_TEST_TARGET="moto=http://127.0.0.1:$port" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
  npx tap --disable-coverage --timeout=900 "$@"

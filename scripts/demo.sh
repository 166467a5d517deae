#!/usr/bin/env bash
# The demo weekend (README "Set-up"): installs what is missing, builds the release preset, and
# plays the first hours of the example cut-over across four sites on this machine: HQ (the
# manager and trust anchor), the data centre dc-east and the vendors vendor-de and vendor-in,
# each a real batond replicating over CURVE tcp on loopback. The plan is imported at HQ and
# reaches the others; each site reports on its own tasks on a compressed clock; vendor-in's link
# is cut for a while (it keeps working) and restored; HQ and dc-east report contradicting facts
# while apart, every site shows the conflict, and HQ resolves it. It ends with every site's state
# digest (all equal) and where the data directories are.
# Usage: bash scripts/demo.sh [--clean]   (--clean removes the data directories at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/deps.sh
baton_install_deps

echo "== build (preset release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target batond baton baton-import baton-audit

BIN=$ROOT/build/release
BATOND=$BIN/daemon/batond
BATON=$BIN/client/baton
IMPORT=$BIN/tools/import/baton-import
AUDIT=$BIN/tools/audit/baton-audit
WORK=$(mktemp -d /tmp/baton-demo-XXXXXX)
SITES=(hq dc-east vendor-de vendor-in)
declare -A NAME=([hq]="Frankfurt HQ" [dc-east]="Data centre East" [vendor-de]="Vendor Germany"
                 [vendor-in]="Vendor India")
declare -A PORT PID
# The link cut below is the fault layer that the multi-site tests use; it is refused unless
# this variable is set (docs/replication.md#fault-injection).
export BATON_ALLOW_FAULT_INJECTION=1

cleanup() {
  for s in "${SITES[@]}"; do
    if [ -n "${PID[$s]:-}" ] && kill -0 "${PID[$s]}" 2>/dev/null; then
      kill -TERM "${PID[$s]}" 2>/dev/null || true
      wait "${PID[$s]}" 2>/dev/null || true
    fi
  done
  if [ "${CLEAN:-}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
[ "${1:-}" = "--clean" ] && CLEAN=1

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# `at SITE baton ...`: run the CLI against SITE's daemon, and show it.
at() {
  local site=$1
  shift
  printf '[%s] $ baton %s\n' "$site" "$*"
  BATON_DATA=$WORK/$site "$BATON" "$@"
}
quiet() { local site=$1; shift; BATON_DATA=$WORK/$site "$BATON" "$@"; }
# A loopback port nothing listens on (bash's /dev/tcp: a connect that fails means free).
free_port() {
  local p
  while true; do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
key_of() { cat "$WORK/$1/identity/site.pub"; }
digest_of() { quiet "$1" status --digest --json | grep -o '"digest": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}'; }
events_of() { quiet "$1" status --json | grep -o '"events": *[0-9]*' | grep -o '[0-9]*$'; }
# Cuts (or, with no sites, heals) SITE's links to the given sites.
cut_links() { local site=$1; shift; : >"$WORK/$site/faults"; for p in "$@"; do echo "cut $p" >>"$WORK/$site/faults"; done; }

start_site() {
  local s=$1
  "$BATOND" run --data "$WORK/$s" 2>>"$WORK/$s.log" &
  PID[$s]=$!
  for _ in $(seq 1 100); do
    if quiet "$s" status --json >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "batond of $s did not start; log:" >&2
  cat "$WORK/$s.log" >&2
  exit 1
}

# Waits until every site holds the same events and state (at most 30 s).
wait_converged() {
  for _ in $(seq 1 300); do
    local d
    d=$(for s in "${SITES[@]}"; do digest_of "$s"; done | sort -u | wc -l)
    if [ "$d" = 1 ]; then return 0; fi
    sleep 0.1
  done
  echo "the sites did not converge within 30 s" >&2
  for s in "${SITES[@]}"; do echo "--- $s"; tail -n 20 "$WORK/$s.log"; done >&2
  exit 1
}
wait_for() {  # wait_for SITE DESCRIPTION COMMAND...: until the command succeeds (30 s).
  local site=$1 what=$2
  shift 2
  for _ in $(seq 1 300); do
    if BATON_DATA=$WORK/$site "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $what at $site" >&2
  exit 1
}

step "Create the four sites: HQ is the manager; the others trust HQ's key"
for s in "${SITES[@]}"; do PORT[$s]=$(free_port); done
run "$BATOND" init --site hq --name "${NAME[hq]}" --data "$WORK/hq" \
  --peer-listen "tcp://127.0.0.1:${PORT[hq]}"
for s in dc-east vendor-de vendor-in; do
  peers=(--peer "hq=tcp://127.0.0.1:${PORT[hq]}")
  # vendor-in also links to vendor-de: when its link to HQ drops, it can go through vendor-de.
  if [ "$s" = vendor-in ]; then peers+=(--peer "vendor-de=tcp://127.0.0.1:${PORT[vendor-de]}"); fi
  run "$BATOND" init --site "$s" --role site --name "${NAME[$s]}" --data "$WORK/$s" \
    --trust "hq:$(key_of hq)" --peer-listen "tcp://127.0.0.1:${PORT[$s]}" "${peers[@]}" >/dev/null
  echo "  initialised $s (key $(key_of "$s" | cut -c1-16)...)"
done
# The vendor-de key on vendor-in's peer line: it dials vendor-de before it has the roster.
sed -i "s|^peer = vendor-de .*|& $(key_of vendor-de)|" "$WORK/vendor-in/batond.conf"
for s in "${SITES[@]}"; do echo "fault_injection = seed=1" >>"$WORK/$s/batond.conf"; done
for s in "${SITES[@]}"; do start_site "$s"; done

# Rehearse the run book now: the window opened 90 minutes ago.
W0=$(( $(date +%s) - 90 * 60 ))
t() { date -u -d "@$(( W0 + $1 * 60 ))" +%Y-%m-%dT%H:%M:%SZ; }

step "HQ imports the plan (rebased: the window opened 90 minutes ago) and enrols the sites"
at hq plan import examples/cutover-plan.csv --tz Europe/Berlin \
  --window-start '2026-03-27 20:00' --window-end '2026-03-30 06:00' --rebase "$(t 0)" | tail -n 3
for s in dc-east vendor-de vendor-in; do
  at hq site add "$s" --key "$(key_of "$s")" --endpoint "tcp://127.0.0.1:${PORT[$s]}"
done
at hq site ls

step "The plan reaches every site over the links"
for s in dc-east vendor-de vendor-in; do
  wait_for "$s" "the plan" sh -c '"$0" status --json | grep -q "\"total\": *[1-9]"' "$BATON"
done
wait_converged
for s in "${SITES[@]}"; do
  # After a start a site takes reports once its peers confirmed its own latest events.
  wait_for "$s" "reports to be accepted" sh -c '"$0" status --json | grep -q "\"rejoining\": *false"' "$BATON"
  echo "  $s holds $(events_of "$s") events"
done

step "The first hour: each site reports its own tasks (effective times given with --at)"
at hq done T-001 --at "$(t 0)"
at hq start T-002 --at "$(t 1)"
at hq done T-002 --at "$(t 16)"
# The vendors' daemons refuse a start they cannot see is in order: let T-002 reach them.
wait_converged
at vendor-de start T-006 --at "$(t 17)" --as "Jonas"
at vendor-in start T-007 --at "$(t 17)" --as "Priya"
at hq start T-003 --at "$(t 17)"
at vendor-de done T-006 --at "$(t 35)" --as "Jonas" --note "VPN ok, jump host ok"
at hq done T-003 --at "$(t 27)"
at hq start T-004 --at "$(t 28)"
wait_converged

step "vendor-in's links drop: it keeps working against its own daemon"
cut_links vendor-in hq vendor-de
cut_links hq vendor-in
cut_links vendor-de vendor-in
at vendor-in done T-007 --at "$(t 40)" --as "Priya" --note "VPN ok after a token reset"
at vendor-in note T-007 "jump host slow from Pune; watching it"
at hq done T-004 --at "$(t 45)"
at hq start T-005 --at "$(t 46)"
# HQ declares a link down after 5 s of silence.
wait_for hq "vendor-in's link to be seen down" sh -c \
  '"$0" sites --json | tr -d " \n" | grep -q "\"site\":\"vendor-in\"[^}]*\"state\":\"connecting\"\|\"state\":\"connecting\"[^}]*\"site\":\"vendor-in\""' "$BATON"
echo
echo "HQ sees vendor-in down, and the events it lacks from HQ:"
at hq sites
echo "vendor-in's board still shows its own reports:"
at vendor-in show T-007 | head -n 6
CUT_MS=$(date +%s%3N)  # A moment while vendor-in was cut off, for the auditor's replay below.

step "The links return: every site converges"
cut_links vendor-in
cut_links hq
cut_links vendor-de
wait_converged
at hq show T-007 | head -n 6

step "A conflict: HQ and dc-east report contradicting facts on T-011 while apart"
at hq done T-005 --at "$(t 56)"
at hq start T-008 --at "$(t 57)"
at hq done T-008 --at "$(t 67)"
wait_converged
at dc-east start T-011 --at "$(t 68)"
wait_converged
cut_links hq dc-east
cut_links dc-east hq
at hq done T-011 --at "$(t 80)" --as "Ana (bridge)" --note "network team says done on the bridge"
at dc-east fail T-011 --at "$(t 81)" --note "core switch config rejected"
cut_links hq
cut_links dc-east
wait_converged
echo "every site shows the same conflict:"
at vendor-de show T-011 | head -n 12

step "HQ resolves it with a report that supersedes both"
at hq reset T-011 --at "$(t 83)" --note "retry after the rejected config"
at hq start T-011 --at "$(t 84)"
wait_converged
at vendor-in show T-011 | head -n 6

step "One frame of vendor-de's live board (run \`baton watch\` for the live one)"
at vendor-de watch --once --no-color

step "Every site holds the same state"
for s in "${SITES[@]}"; do printf '  %-10s %s  (%s events)\n' "$s" "$(digest_of "$s")" "$(events_of "$s")"; done
[ "$(for s in "${SITES[@]}"; do digest_of "$s"; done | sort -u | wc -l)" = 1 ] || {
  echo "digests differ" >&2
  exit 1
}

step "Two sites export their evidence; an auditor verifies it offline (docs/audit.md)"
at vendor-in export --bundle "$WORK/vendor-in.bundle"
"$AUDIT" bundle --data "$WORK/hq" "$WORK/hq.bundle"
"$AUDIT" verify --data "$WORK/vendor-in.bundle" --trust "hq:$(cat "$WORK/hq/identity/site.pub")"
hq_state=$("$AUDIT" verify --data "$WORK/hq.bundle" --json | sed -n 's/.*"state_digest": "\([0-9a-f]*\)".*/\1/p')
in_state=$("$AUDIT" verify --data "$WORK/vendor-in.bundle" --json | sed -n 's/.*"state_digest": "\([0-9a-f]*\)".*/\1/p')
[ -n "$hq_state" ] && [ "$hq_state" = "$in_state" ] || {
  echo "the two bundles verify to different states: $hq_state and $in_state" >&2
  exit 1
}
echo "hq's bundle verifies to the same state: $hq_state"
"$AUDIT" verify --data "$WORK/vendor-in" --trust "hq:$(cat "$WORK/hq/identity/site.pub")" >/dev/null
echo "hq's board as it stood while vendor-in was cut off, replayed from hq's bundle:"
"$AUDIT" replay --data "$WORK/hq.bundle" --site hq --as-of "$CUT_MS" status | head -n 12
"$AUDIT" report --data "$WORK/hq.bundle" --out "$WORK/weekend.html" --xlsx "$WORK/weekend.xlsx"
"$AUDIT" timeline --data "$WORK/hq" --out "$WORK/timeline.csv"
echo "the last events of the weekend, as the auditor's timeline lists them ($WORK/timeline.csv):"
tail -n 4 "$WORK/timeline.csv" | tr -d '\r'

# From here on the sites are ordinary ones: no fault layer.
for s in "${SITES[@]}"; do
  sed -i '/^fault_injection/d' "$WORK/$s/batond.conf"
  rm -f "$WORK/$s/faults"
done
echo
if [ "${CLEAN:-}" = 1 ]; then
  echo "Demo finished. The data directories in $WORK are removed at exit (--clean)."
  exit 0
fi
echo "Demo finished. The data directories are in $WORK (logs: $WORK/*.log)."
echo "The daemons stop now; to go on by hand, start them again and use baton against any site:"
for s in "${SITES[@]}"; do echo "  $BATOND run --data $WORK/$s 2>>$WORK/$s.log &"; done
echo "  BATON_DATA=$WORK/vendor-de $BATON status"
echo "A real set-up on real machines: README.md, 'Several sites'."

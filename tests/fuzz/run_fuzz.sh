#!/usr/bin/env bash
# Runs one libFuzzer target: replays every input of the seed corpus, then fuzzes for SECONDS
# into a scratch corpus seeded from it (the repository's corpus is never written). Prints the
# executions and the corpus sizes; any crash, leak or sanitizer report fails with the input
# kept in the scratch directory, which is named.
# Usage: run_fuzz.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
name=$(basename "$fuzzer")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
echo "$name: replaying $(ls "$corpus" | wc -l) seed inputs from $corpus"
"$fuzzer" -runs=0 "$corpus" 2>&1 | tail -n 3
echo "$name: fuzzing for $seconds s (scratch corpus and any crash input: $scratch)"
if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 -timeout=10 \
     -rss_limit_mb=2048 -artifact_prefix="$scratch/" "$scratch" "$corpus" >"$scratch/log" 2>&1; then
  tail -n 60 "$scratch/log"
  echo "$name: FAILED; the input is in $scratch"
  exit 1
fi
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added" "$scratch/log"
echo "$name: $(ls "$scratch" | grep -vc '^log$') inputs in the scratch corpus; no crash"
rm -rf "$scratch"

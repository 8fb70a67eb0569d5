#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 300) with a 2 GB RSS limit and a 10 s timeout per
# input, one after another, and prints each target's executions and outcome.
#   RUSTC_BOOTSTRAP=1 cargo fuzz build -s none -O   (libFuzzer needs no nightly features here)
#   fuzz/seed.sh && fuzz/run.sh 300
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-300}"
BIN="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release"
mkdir -p artifacts logs
for t in smiles sdf qm9_csv tu pickle ntriples kg link_queries ogb feature_file safetensors burnpack model_card; do
  mkdir -p "artifacts/$t"
  max_len=65536
  { [ "$t" = pickle ] || [ "$t" = kg ]; } && max_len=1048576
  "$BIN/$t" "corpus/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
      -max_len="$max_len" -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
      > "logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
  echo "$t: exit $rc, ${execs:-?} executions in ${SECONDS_EACH}s, artifacts: $(ls "artifacts/$t" | wc -l)"
done

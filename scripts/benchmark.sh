#!/usr/bin/env bash
# Runs the benchmarks of PRODUCT.md §6 (see benchmarks/README.md) and prints a summary.
#
# They are measurements, not gates: a missed target is reported, not an error. The
# exit status is 1 only when a benchmark itself crashed or ran over its time limit.
#
# page_load and event_latency build the production app in .web/, as `make test` does:
# do not run both at once in one checkout. With --isolated (or BENCHMARK_ISOLATED=1,
# for `make benchmark`) they build in a temporary clone of the last commit instead.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

isolated=()
[ "${BENCHMARK_ISOLATED:-0}" = 1 ] && isolated=(--isolated)
for arg in "$@"; do
  case "$arg" in
    --isolated) isolated=(--isolated) ;;
    *) echo "usage: scripts/benchmark.sh [--isolated]" >&2; exit 2 ;;
  esac
done

results="$ROOT/benchmarks/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$results"

# name, extra arguments, time limit in seconds (each takes well under two minutes here;
# the limit only stops a hung run, and SIGTERM lets it clean up its processes).
run_benchmark() {
  local name=$1 limit=$2
  shift 2
  say "benchmark: $name"
  local started=$SECONDS
  timeout --kill-after=30 "$limit" python -m "benchmarks.$name" "$@" 2>&1 | tee "$results/$name.log"
  local rc=${PIPESTATUS[0]}
  local took=$((SECONDS - started))
  local line
  line="$(grep -E '^(VERDICT|SKIPPED)' "$results/$name.log" | tail -n 1)"
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && line="TIMED OUT after ${limit}s" || line="CRASHED (exit $rc)"
    failed=1
  fi
  summary+=("$(printf '%-20s %4ss  %s' "$name" "$took" "${line:-no verdict printed}")")
}

failed=0
summary=()
run_benchmark emulator_speed 60
run_benchmark context_size 120
run_benchmark memory 180
run_benchmark airtable_throughput 240
run_benchmark read_requests 120
run_benchmark import_export 300
run_benchmark set_write_tokens 60
run_benchmark analytics 180
run_benchmark page_load 360 "${isolated[@]}"
run_benchmark event_latency 360 "${isolated[@]}"
run_benchmark first_answer 480 "${isolated[@]}"

say "summary (logs in ${results#"$ROOT"/})"
printf '%s\n' "${summary[@]}"
exit "$failed"

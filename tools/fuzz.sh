#!/usr/bin/env bash
# Runs every libFuzzer target of a sanitizer build (make sanitize builds them) for SECONDS each, JOBS
# at a time, keeping each target's corpus in BUILD/fuzz/corpus/, and writes OUT/fuzz_runs.csv: per
# target the seconds it ran, the inputs it executed, the corpus size and whether it stayed clean
# (a failing input is kept in BUILD/fuzz/crashes/ and the script exits nonzero).
# Usage: tools/fuzz.sh BUILD_DIR SECONDS OUT_DIR [JOBS]   (FUZZ_TARGETS="fuzz_npy ...": only those)
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS OUT_DIR [JOBS]}
seconds=${2:?usage: fuzz.sh BUILD_DIR SECONDS OUT_DIR [JOBS]}
out=${3:?usage: fuzz.sh BUILD_DIR SECONDS OUT_DIR [JOBS]}
jobs=${4:-$(nproc)}
case $seconds in ''|*[!0-9]*) echo "fuzz: SECONDS '$seconds' must be a whole number" >&2; exit 2;; esac
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [ -n "${FUZZ_TARGETS:-}" ]; then
  targets=()
  for t in $FUZZ_TARGETS; do
    [ -x "$build/fuzz/$t" ] || { echo "fuzz: no target $t in $build/fuzz" >&2; exit 2; }
    targets+=("$build/fuzz/$t")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets in $build/fuzz: build them with make sanitize (clang, DSTACK_FUZZ=ON)" >&2
  exit 1
fi
mkdir -p "$out" "$build/fuzz/crashes" "$out/logs"
commit=$(git -C "$(dirname "$0")/.." describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)

run_one() {
  local bin=$1 name
  name=$(basename "$bin")
  mkdir -p "$build/fuzz/corpus/$name"
  local rc=0
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz/crashes/$name-" "$build/fuzz/corpus/$name" "$build/fuzz/seeds/$name" \
    > "$out/logs/$name.log" 2>&1 || rc=$?
  local runs time corpus
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$name.log" | tail -1)
  time=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out/logs/$name.log" | tail -1)
  corpus=$(find "$build/fuzz/corpus/$name" -type f | wc -l)
  echo "$name,${time:-$seconds},${runs:-0},$corpus,$([ $rc = 0 ] && echo clean || echo "failed rc=$rc")"
}
export -f run_one
export build seconds out
{
  echo "# commit: $commit"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# machine: $(nproc) cores, $(uname -m); seconds per target: $seconds"
  echo "target,seconds,inputs_executed,corpus_files,result"
  printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' | sort
} > "$out/fuzz_runs.csv"
cat "$out/fuzz_runs.csv"
if grep -q ",failed" "$out/fuzz_runs.csv"; then
  echo "fuzz: a target failed; its input is in $build/fuzz/crashes/ and its log in $out/logs/" >&2
  exit 1
fi

#!/usr/bin/env bash
# Runs every benchmark binary of a build and writes Google Benchmark JSON next to the console output.
# Usage: tools/run-bench.sh BUILD_DIR [OUT_DIR]   (OUT_DIR defaults to BUILD_DIR/bench-results)
set -euo pipefail
build=${1:?usage: run-bench.sh BUILD_DIR [OUT_DIR]}
out=${2:-$build/bench-results}
mkdir -p "$out"
shopt -s nullglob
benches=("$build"/bench/bench_*)
if [ ${#benches[@]} -eq 0 ]; then
  echo "run-bench: no benchmarks in $build/bench (Google Benchmark or the CUDA toolkit missing at configure time?)" >&2
  exit 1
fi
for b in "${benches[@]}"; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  echo "== $name"
  "$b" --benchmark_out="$out/$name.json" --benchmark_out_format=json
done
echo "run-bench: JSON in $out"

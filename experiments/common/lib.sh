# Sourced by every experiments/<name>/run.sh: the settings they share, a logged way to run dstack,
# and the provenance file every output folder carries. Usage inside run.sh:
#   source "$(dirname "$0")/../common/lib.sh" "$@"     # sets OUT, DSTACK, PYTHON, QUICK, BACKEND
#   run "$DSTACK" knee ... >"$OUT/knee.json"            # logged in $OUT/commands.txt
#   profile MODELS BATCHES [ARGS...]                   # $OUT/profile.csv, simulated or measured
#   plot                                               # runs plot.py on $OUT
#   finish "paper item" file...                        # writes $OUT/provenance.json
# Environment: DSTACK (the binary; default build/app/dstack), PYTHON (with matplotlib; default
# /usr/bin/python3, Debian's, which `make setup` gives matplotlib), QUICK=1 (small sizes, for CI),
# BACKEND=sim|gpu (default sim: the simulated H100; gpu measures where a command supports it),
# KERNEL_TIMES=FILE (measured kernel times, e.g. gpu-check's calibration_zoo.kernels.csv: the serving
# experiments' simulated GPU and policies are calibrated by them; default the roofline).
set -euo pipefail
EXP_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
EXP_NAME=$(basename "$EXP_DIR")
ROOT=$(cd "$EXP_DIR/../.." && pwd)
DSTACK=${DSTACK:-$ROOT/build/app/dstack}
PYTHON=${PYTHON:-/usr/bin/python3}
QUICK=${QUICK:-0}
BACKEND=${BACKEND:-sim}
DEVICE=${DEVICE:-h100_sxm}
KERNEL_TIMES=${KERNEL_TIMES:-}
export DSTACK PYTHON QUICK BACKEND DEVICE KERNEL_TIMES
OUT=${1:?"usage: $0 OUT_DIR   (env: DSTACK, PYTHON, QUICK=1, BACKEND=sim|gpu)"}

if [ ! -x "$DSTACK" ]; then
  echo "$EXP_NAME: no dstack binary at $DSTACK: run 'make build' first, or set DSTACK=path/to/dstack" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import matplotlib' 2>/dev/null; then
  echo "$EXP_NAME: $PYTHON cannot import matplotlib: run 'make setup' (Debian's python3-matplotlib), or set PYTHON" >&2
  exit 1
fi
if [ -n "$KERNEL_TIMES" ] && [ ! -f "$KERNEL_TIMES" ]; then
  echo "$EXP_NAME: KERNEL_TIMES=$KERNEL_TIMES: no such file (a measured profile's P.kernels.csv)" >&2
  exit 1
fi
case "$BACKEND" in sim|gpu) ;; *) echo "$EXP_NAME: BACKEND=$BACKEND: use sim or gpu" >&2; exit 1 ;; esac
mkdir -p "$OUT"
: >"$OUT/commands.txt"
EXP_START=$(date +%s)

quick() { [ "$QUICK" = 1 ]; }
# Runs a command, logging it (relative to the repository) for provenance.
run() {
  echo "$*" | sed "s|$ROOT/||g" >>"$OUT/commands.txt"
  "$@"
}
plot() { run "$PYTHON" "$EXP_DIR/plot.py" "$OUT"; }
# run_into DIR CONFIG ARGS...: dstack_run CONFIG ARGS... -o $OUT/DIR in the background, two at a time
# (one per core), its output in a log; wait_runs waits for them all and fails on the first run that
# wrote no comparison, showing its log.
RUN_DIRS=()
run_into() {
  local dir=$1
  shift
  RUN_DIRS+=("$dir")
  dstack_run "$@" -o "$OUT/$dir" >"$OUT/${dir//\//_}.log" 2>&1 &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
}
wait_runs() {
  local p dir
  for p in $(jobs -rp); do wait "$p" || true; done  # each run is checked below, with its log
  for dir in "${RUN_DIRS[@]}"; do
    if [ ! -f "$OUT/$dir/comparison.csv" ]; then
      cat "$OUT/${dir//\//_}.log" >&2
      echo "$EXP_NAME: the run into $dir failed" >&2
      exit 1
    fi
  done
  for dir in "${RUN_DIRS[@]}"; do rm -f "$OUT/${dir//\//_}.log"; done
}
# dstack_run CONFIG ARGS...: `dstack run` on $BACKEND, calibrated by $KERNEL_TIMES when set.
dstack_run() {
  local calibration=()
  [ -n "$KERNEL_TIMES" ] && calibration=(--kernel-times "$KERNEL_TIMES")
  run "$DSTACK" run "$@" --backend "$BACKEND" "${calibration[@]}"
}
# profile MODELS BATCHES [ARGS...]: $OUT/profile.csv and profile.json, simulated on $DEVICE, or
# measured when BACKEND=gpu (CUDA graphs in green-context partitions, median of 5; a batch slower
# than 300 ms on a partition stops that partition's sweep). The per-kernel CSV is large and no
# figure reads it: removed.
profile() {
  local models=$1 batches=$2
  shift 2
  if [ "$BACKEND" = gpu ]; then
    run "$DSTACK" profile "$models" --batches "$batches" "$@" --backend gpu --repeats 5 --kernel-repeats 0 \
      --stop-after-ms 300 -o "$OUT/profile.csv"
  else
    run "$DSTACK" profile "$models" --batches "$batches" "$@" --backend sim --device "$DEVICE" -o "$OUT/profile.csv"
  fi
  rm -f "$OUT/profile.kernels.csv"
}
# finish "PAPER ITEM" OUTPUT...: provenance.json naming backend, device, commit, date, the commands,
# the outputs (relative to $OUT) and how long the run took.
finish() {
  local item=$1; shift
  "$PYTHON" "$ROOT/experiments/common/provenance.py" --out "$OUT" --experiment "$EXP_NAME" --paper-item "$item" \
    --dstack "$DSTACK" --backend "$BACKEND" --device "$DEVICE" --quick "$QUICK" --kernel-times "$KERNEL_TIMES" \
    --seconds $(( $(date +%s) - EXP_START )) "$@"
}

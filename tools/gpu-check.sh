#!/usr/bin/env bash
# make gpu-check: the one command that proves the GPU path. Builds (offline, with .gpu-deps/ when
# present), runs every test (gpu and cpu labels), measures every zoo model's kernels, serves the
# demo experiment on the GPU and the same seeded arrivals on the simulator calibrated with those
# kernel times, and compares the two (serving_fidelity.csv). Serving comes first among the
# measurements because whether the simulated serving results (the figures) stand for measured ones
# is what a short lease has to answer. The default run is sized for about 9 minutes on a 16-core
# H200 machine, build included; the slow steps (benchmarks, the measured profile and its knees,
# PyTorch, the sanitizers) run when GPU_CHECK_ONLY names them or with GPU_CHECK_FULL=1. Logs and a
# summary naming GPU, driver and commit go under results/gpu-check/<gpu>/, the serving runs and their
# fidelity under results/serving/<gpu>/; the serving fidelity's median error and the step table are
# printed last. Exit status is non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${GPU_CHECK_BUILD_DIR:-build-gpu}
jobs=${JOBS:-$(nproc)}
# Warnings are errors in CI (one pinned compiler); here a newer compiler's new warning should not
# hide the GPU results, so they are only logged unless GPU_CHECK_WERROR=ON.
werror=${GPU_CHECK_WERROR:-OFF}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU visible (nvidia-smi missing or failing); run it on a machine with a GPU." >&2
  exit 2
fi
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)
slug=$(echo "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed -E 's/^nvidia //; s/[^a-z0-9]+/-/g; s/-+$//')
# A copied tree names its commit in DSTACK_GIT_COMMIT, which wins over its (possibly stale) .git;
# the build reads it too.
if [ -n "${DSTACK_GIT_COMMIT:-}" ]; then
  commit=$DSTACK_GIT_COMMIT
elif commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit+dirty"
else
  commit=unknown
fi
out="$root/results/gpu-check/$slug"
# Measured serving (and the simulator's run of the same arrivals beside it) is a result of its own:
# results/serving/<gpu>/ {gpu,sim}/ and serving_fidelity.{csv,json}.
serving_out="$root/results/serving/$slug"
# Steps, in order: configure build info ctest calibration serving serving_sim fidelity (the default),
# then calibration_zoo bench profile knee validate torch memcheck racecheck (slow: only with GPU_CHECK_FULL=1, which
# runs everything, or when GPU_CHECK_ONLY names them). GPU_CHECK_ONLY="a b" runs only those steps
# (configure and build always run, and the folder is kept: a second call on a warm machine adds its
# steps to the first one's); GPU_CHECK_SKIP="a b" leaves steps out of whatever would run.
only=${GPU_CHECK_ONLY:-} skip_list=${GPU_CHECK_SKIP:-} full=${GPU_CHECK_FULL:-0}
slow_steps="calibration_zoo bench profile knee validate torch memcheck racecheck"
if [ -z "$only" ]; then rm -rf "$out"; fi
mkdir -p "$out"
# A partial run's summaries are named after its steps, beside the full run's.
summary=summary
[ -n "$only" ] && summary="summary.only-$(echo $only | tr ' ' '-')"

declare -a step_names step_status step_secs
failed=0
wanted() {  # wanted NAME: the step is asked for
  case " configure build " in *" $1 "*) return 0 ;; esac
  if [ -n "$only" ]; then
    [[ " $only " == *" $1 "* ]] || return 1
  elif [ "$full" != 1 ] && [[ " $slow_steps " == *" $1 "* ]]; then
    return 1
  fi
  [[ " $skip_list " != *" $1 "* ]]
}
step() {  # step NAME required|optional CMD...
  local name=$1 need=$2; shift 2
  if ! wanted "$name"; then
    local why="not asked for (GPU_CHECK_ONLY/SKIP)"
    [ -z "$only" ] && [ "$full" != 1 ] && [[ " $slow_steps " == *" $name "* ]] && [[ " $skip_list " != *" $name "* ]] \
      && why="not by default (GPU_CHECK_FULL=1)"
    step_names+=("$name"); step_status+=("$why"); step_secs+=(0)
    return 0
  fi
  local t0=$SECONDS status
  echo "== gpu-check: $name"
  if "$@" >"$out/$name.log" 2>&1; then status=ok; else
    status=$([ "$need" = required ] && echo FAILED || echo "failed (optional)")
    [ "$need" = required ] && failed=1
    tail -n 30 "$out/$name.log"
  fi
  step_names+=("$name"); step_status+=("$status"); step_secs+=($((SECONDS - t0)))
}
skip() { step_names+=("$1"); step_status+=("skipped: $2"); step_secs+=(0); }

deps_args=()
[ -d "$root/.gpu-deps" ] && deps_args=(-DDSTACK_DEPS_PREFIX="$root/.gpu-deps")
# The ONNX tests export torchvision models with a Python that has torch, torchvision and onnx.
py=$(command -v python3 || true)
if [ -n "$py" ] && "$py" -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
  deps_args+=(-DDSTACK_TORCH_PYTHON="$py")
fi
step configure required cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDSTACK_ENABLE_CUDA=ON -DDSTACK_WERROR="$werror" "${deps_args[@]}"
step build required cmake --build "$build" -j "$jobs"
fidelity_ran=0
if [ "$failed" = 0 ]; then
  step info required "$build/app/dstack" info
  "$build/app/dstack" info --json >"$out/info.json" 2>/dev/null
  # The figures' quick-mode test is CPU-only and slow (about a minute), and CI runs it already.
  step ctest required bash -c "cd '$build' && ctest --output-on-failure --timeout 300 -E figures_quick_mode \
    --output-junit '$out/ctest.xml' -j ${CTEST_JOBS:-16}"
  # The demo's models' kernels on the whole GPU at batches 1, 2, 4, ..., 64: what calibrates the
  # simulator for serving_sim below. The kernel file is written at the end, so a run cut by the
  # timeout leaves none and both serving steps fall back to the roofline alike. (calibration_zoo,
  # a slow step, does every zoo model for make figures KERNEL_TIMES=.../calibration_zoo.kernels.csv.)
  step calibration optional timeout 150 "$build/app/dstack" profile resnet50,mobilenet_v2,bert_base,vgg16 \
    --backend gpu --sms 132 --batches 1,2,4,8,16,32,64 --repeats 3 --kernel-repeats 1 -o "$out/calibration.csv"
  serve() {  # serve gpu|sim SECONDS: the demo's seeded arrivals on that backend, every policy
    local kernel_times=() config=experiments/demo/mixed4.yaml dev
    if [ -f "$out/calibration.kernels.csv" ]; then
      kernel_times=(--kernel-times "$out/calibration.kernels.csv")
    else
      echo "gpu-check: no $out/calibration.kernels.csv (calibration failed or did not run): serving with the roofline cost model"
    fi
    # On the GPU the policies plan with the description matched to it (devices/h200.json on an H200),
    # not the config's h100_sxm: the simulator must serve on that one too, or the comparison mixes
    # two devices. The arrivals depend on the workloads and the seed only.
    local device=()
    if [ "$1" = sim ]; then
      dev=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["provenance"]["device"])' \
        "$serving_out/gpu/comparison.json" 2>/dev/null)
      if [ -n "$dev" ]; then
        device=(--device "$dev")
        echo "gpu-check: simulating device $dev, the description the GPU run planned with"
      else
        echo "gpu-check: serving/gpu/comparison.json names no device: simulating the config's"
      fi
    fi
    timeout "$2" "$build/app/dstack" run "$config" --backend "$1" "${device[@]}" \
      --duration "${GPU_CHECK_SERVE_S:-1.5}" --warmup 0.5 "${kernel_times[@]}" -o "$serving_out/$1"
  }
  # Serving on the GPU first among the measurements, then the same arrivals on the simulator with
  # the same kernel times, then how far apart they are.
  wanted serving && rm -rf "$serving_out/gpu"
  wanted serving_sim && rm -rf "$serving_out/sim"
  step serving required serve gpu 240
  step serving_sim required serve sim 180
  if ! wanted fidelity || { [ -f "$serving_out/gpu/comparison.json" ] && [ -f "$serving_out/sim/comparison.json" ]; }; then
    step fidelity required python3 tools/serving_fidelity.py "$serving_out/gpu" "$serving_out/sim" \
      -o "$serving_out/serving_fidelity.csv" --json "$serving_out/serving_fidelity.json"
    wanted fidelity && fidelity_ran=1
  else
    skip fidelity "no results/serving/$slug/{gpu,sim}/comparison.json"
  fi
  # Every request and every run's trace: megabytes per policy, and only the comparisons are read here.
  if [ -d "$serving_out" ]; then
    find "$serving_out" -type f \( -name requests.csv -o -name trace.json \) -exec gzip -f {} +
  fi
  step calibration_zoo optional timeout 300 "$build/app/dstack" profile all --backend gpu --sms 132 \
    --batches 1,2,4,8,16,32,64 --repeats 3 --kernel-repeats 1 -o "$out/calibration_zoo.csv"
  if ! wanted bench || ls "$build"/bench/bench_* >/dev/null 2>&1; then
    # Kernel benchmarks (ours vs cuDNN/cuBLAS), partition re-size costs, and whole models including
    # the short profile sweep (latency by batch and partition size): JSON under $out.
    step bench required tools/run-bench.sh "$build" "$out"
  else
    skip bench "benchmarks not built (Google Benchmark missing: run tools/pack-gpu-deps.sh here first)"
  fi
  # A measured profile (whole models and every kernel, by batch and partition size) and the
  # parallelism model's knees against it: the data the knee tables wait for.
  step profile optional timeout 240 "$build/app/dstack" profile resnet50,mobilenet_v2,bert_base --backend gpu \
    --batches 1,2,4,8,16,32 --repeats 5 --kernel-repeats 1 --stop-after-ms 100 -o "$out/profile.csv"
  if ! wanted knee || [ -f "$out/profile.csv" ]; then
    step knee optional bash -c "'$build/app/dstack' knee resnet50,mobilenet_v2,bert_base --batches 1,2,4,8,16,32 \
      --profile '$out/profile.csv' > '$out/knee.txt' && cat '$out/knee.txt'"
  else
    skip knee "no profile.csv (the profile step failed or did not run)"
  fi
  if ! wanted validate || [ -f "$out/profile.csv" ]; then
    step validate optional bash -c "'$build/app/dstack' sim validate --profile '$out/profile.csv' > '$out/sim_validate.txt' \
      && tail -3 '$out/sim_validate.txt'"
  else
    skip validate "no profile.csv (the profile step failed or did not run)"
  fi
  # PyTorch eager on the same models, where this machine's Python has torch and torchvision.
  torch_py=${DSTACK_TORCH_PYTHON:-python3}
  if ! wanted torch || "$torch_py" -c 'import torch, torchvision' >/dev/null 2>&1; then
    step torch optional timeout 120 "$torch_py" tools/torch_baseline.py --out "$out/torch_baseline.json"
  else
    skip torch "no torch/torchvision in $torch_py (set DSTACK_TORCH_PYTHON)"
  fi
  # The sanitizers last: the slowest steps, so a run cut short still has the measurements.
  if ! { wanted memcheck || wanted racecheck; } || command -v compute-sanitizer >/dev/null 2>&1; then
    # The GPU tests at their own (small) shapes: the runtime tests and every kernel family. Tests
    # that provoke CUDA API errors on purpose are left out (the sanitizer counts every failed call),
    # and so are the whole-model executor tests (minutes under the sanitizer; the kernels they
    # launch are covered by the family tests).
    san_filter='--gtest_filter=-*Oversized*'
    san_bins=("$build/test/test_gpu" "$build"/test/test_*_gpu)
    sanitize() {  # sanitize TOOL: every GPU test binary under compute-sanitizer --tool TOOL
      local rc=0
      for b in "${san_bins[@]}"; do
        [ -x "$b" ] || continue
        echo "### $(basename "$b")"
        compute-sanitizer --tool "$1" --error-exitcode 1 "$b" "$san_filter" || rc=1
      done
      return $rc
    }
    step memcheck required sanitize memcheck
    step racecheck required sanitize racecheck
  else
    skip memcheck "compute-sanitizer not on PATH"; skip racecheck "compute-sanitizer not on PATH"
  fi
fi

passed=$(grep -Eo '[0-9]+% tests passed(, [0-9]+ tests failed)? out of [0-9]+' "$out/ctest.log" 2>/dev/null || echo "n/a")
skipped=$(grep -c '\*\*\*Skipped' "$out/ctest.log" 2>/dev/null || true)
skipped=${skipped:-0}
{
  echo "{"
  echo "  \"gpu\": \"$gpu_name\", \"driver\": \"$driver\", \"commit\": \"$commit\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"nvcc\": \"$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' | head -n1)\","
  echo "  \"ctest\": \"$passed\", \"ctest_skipped\": $skipped,"
  echo "  \"steps\": {"
  for i in "${!step_names[@]}"; do
    sep=$([ "$i" -lt $((${#step_names[@]} - 1)) ] && echo , || echo)
    echo "    \"${step_names[$i]}\": {\"status\": \"${step_status[$i]}\", \"seconds\": ${step_secs[$i]}}$sep"
  done
  echo "  }"
  echo "}"
} >"$out/$summary.json"
# The performance tables (from the JSON, not the logs), then the step table last.
if command -v python3 >/dev/null 2>&1; then
  python3 tools/gpu_check_summary.py "$out" | tee "$out/performance.txt"
fi
# The serving fidelity (this call's, when it ran) just above the step table: its last line, the
# median error of the simulator against the GPU, is what a short lease is for.
if [ "$fidelity_ran" = 1 ] && [ -f "$out/fidelity.log" ]; then
  echo
  echo "serving fidelity (results/serving/$slug/serving_fidelity.csv):"
  tail -n 16 "$out/fidelity.log"
fi
{
  echo
  echo "gpu-check on $gpu_name (driver $driver), commit $commit, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '%-16s %-40s %6s\n' step status seconds
  for i in "${!step_names[@]}"; do printf '%-16s %-40s %6s\n' "${step_names[$i]}" "${step_status[$i]}" "${step_secs[$i]}"; done
  echo "ctest: $passed ($skipped skipped)"
  echo "logs: results/gpu-check/$slug/"
  [ "$failed" = 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
} | tee "$out/$summary.txt"
exit $failed

#!/usr/bin/env bash
# Paper item 5 in its proper form: how much load each scheduler sustains within its SLOs. For every
# mix of experiments/baselines/ (2, 3, 4 and 6 models), `dstack capacity` finds per policy the
# largest load factor at which >= 99% of all requests and >= 97% of each model's meet their SLOs
# (runtime/serve/capacity.h: the same seeded arrivals scaled, bracket then bisect to 0.05).
# Usage: experiments/capacity/run.sh OUT_DIR   (env: QUICK=1, DSTACK, PYTHON, KERNEL_TIMES)
source "$(dirname "$0")/../common/lib.sh" "$@"

if [ "$BACKEND" = gpu ]; then
  echo "capacity: a capacity search serves tens of runs per policy; it runs on the simulator (calibrate it" \
       "to the GPU with KERNEL_TIMES=.../calibration_zoo.kernels.csv), not BACKEND=gpu" >&2
  exit 1
fi
mixes=(mix2 mix3 mix4 mix6) extra=()
if quick; then
  mixes=(mix2 mix4) extra=(--duration 0.6 --warmup 0.2 --resolution 0.2 --max-load 4)
fi
calibration=()
[ -n "$KERNEL_TIMES" ] && calibration=(--kernel-times "$KERNEL_TIMES")

outputs=()
pids=()
for mix in "${mixes[@]}"; do
  # Two searches at a time (one per core); each writes its own folder and log.
  run "$DSTACK" capacity "$ROOT/experiments/baselines/$mix.yaml" "${extra[@]}" "${calibration[@]}" \
    -o "$OUT/runs/$mix" >"$OUT/$mix.log" 2>&1 &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
  outputs+=("runs/$mix/capacity.csv" "runs/$mix/capacity.json" "runs/$mix/probes.csv")
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for mix in "${mixes[@]}"; do
  # Exit 1 means no policy met the SLOs at any load: a result, kept (the table says so), not a crash.
  if [ ! -f "$OUT/runs/$mix/capacity.csv" ]; then
    cat "$OUT/$mix.log" >&2
    echo "capacity: the search on $mix wrote no capacity.csv" >&2
    exit 1
  fi
done
[ "$status" = 0 ] || echo "capacity: a search found no capacity for any policy (see its log)" >&2
for mix in "${mixes[@]}"; do rm -f "$OUT/$mix.log"; done

plot   # capacity.csv (every mix and policy), capacity_summary.json and capacity.png
finish "5. throughput at SLO: each policy's capacity (largest load factor meeting the SLOs) on the mixes of baselines/" \
  "${outputs[@]}" capacity.csv capacity_summary.json capacity.png

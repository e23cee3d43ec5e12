#!/usr/bin/env bash
# Paper item 5: D-STACK vs triton, clipper, nexus, gslice, temporal and mps (and the ideal scheduler)
# on mixed workloads of 2, 3, 4 and 6 models with mixed SLOs (mix*.yaml), each at several load
# factors (dstack run --load: every rate times the factor), every policy on the same arrivals.
# Usage: experiments/baselines/run.sh OUT_DIR   (env: QUICK=1, BACKEND=sim|gpu, DSTACK, PYTHON)
source "$(dirname "$0")/../common/lib.sh" "$@"

mixes=(mix2 mix3 mix4 mix6) loads=(0.5 1 1.5 2 3) window=()
if quick; then
  mixes=(mix2 mix4) loads=(1) window=(--duration 0.6 --warmup 0.2)
fi

outputs=()
for mix in "${mixes[@]}"; do
  for load in "${loads[@]}"; do
    dir=runs/${mix}_x${load}
    run_into "$dir" "$EXP_DIR/$mix.yaml" --load "$load" "${window[@]}"
    outputs+=("$dir/comparison.csv" "$dir/comparison.json" "$dir/config.json")
  done
done
wait_runs

# The schedule D-STACK chose on the four-model mix at load 1, drawn from its trace; the per-request
# and per-run files are large and the figure reads the per-policy metrics only.
sched=runs/mix4_x1/dstack
run "$PYTHON" "$ROOT/tools/plot_trace.py" "$OUT/$sched/trace.json" --out "$OUT/dstack_schedule_mix4.png"
find "$OUT/runs" \( -name requests.csv -o -name runs.csv -o -name trace.json \) -delete
for f in "$OUT"/runs/*/*/metrics.json; do outputs+=("${f#"$OUT"/}"); done

plot   # writes baselines.csv, baselines_summary.json and baselines.png
finish "5. D-STACK vs triton, clipper, nexus, gslice, temporal, mps on mixed workloads: throughput, SM utilization, SLO attainment, p99" \
  "${outputs[@]}" dstack_schedule_mix4.png baselines.csv baselines_summary.json baselines.png

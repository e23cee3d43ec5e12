#!/usr/bin/env bash
# Paper item 4: D-STACK against the ideal scheduler (every kernel on exactly the SMs it can use,
# kernels of all models packed concurrently): throughput, goodput and SM utilization as a fraction of
# the ideal's, on the mixed workloads of ../baselines (2, 3, 4, 6 models) at several load factors and
# seeds. The paper reports more than 90% of the ideal's throughput and utilization.
# Usage: experiments/dstack_vs_ideal/run.sh OUT_DIR   (env: QUICK=1, BACKEND=sim|gpu, DSTACK, PYTHON)
source "$(dirname "$0")/../common/lib.sh" "$@"

mixes=(mix2 mix3 mix4 mix6) loads=(0.5 1 1.5) seeds=(1 2 3) window=()
if quick; then
  mixes=(mix2 mix4) loads=(1) seeds=(1) window=(--duration 0.6 --warmup 0.2)
fi

outputs=()
for mix in "${mixes[@]}"; do
  for load in "${loads[@]}"; do
    for seed in "${seeds[@]}"; do
      dir=runs/${mix}_x${load}_s${seed}
      run_into "$dir" "$EXP_DIR/../baselines/$mix.yaml" --policies dstack,ideal --load "$load" --seed "$seed" \
        "${window[@]}"
      outputs+=("$dir/comparison.csv" "$dir/config.json")
    done
  done
done
wait_runs
# The per-request, per-run and trace files are large; the figure reads the comparison only.
find "$OUT/runs" \( -name requests.csv -o -name runs.csv -o -name trace.json \) -delete

plot   # writes dstack_vs_ideal.csv, dstack_vs_ideal_summary.json and dstack_vs_ideal.png
finish "4. D-STACK vs the ideal scheduler: throughput and SM utilization (paper: > 90%)" \
  "${outputs[@]}" dstack_vs_ideal.csv dstack_vs_ideal_summary.json dstack_vs_ideal.png

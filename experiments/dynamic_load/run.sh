#!/usr/bin/env bash
# Paper item 6: behaviour under changing load. Four DNNs on one simulated H100 whose rates step up
# and down (and ramp) over 8 s, under D-STACK and baselines; plot.py bins requests.csv and runs.csv
# over time. QUICK=1: the first 4 s (two steps and the start of the ramp), dstack and gslice only.
source "$(dirname "$0")/../common/lib.sh" "$@"

config=$EXP_DIR/dynamic4.yaml
if quick; then
  policies=(dstack gslice)
  dstack_run "$config" --policies dstack,gslice --duration 4 -o "$OUT/run"
else
  policies=(dstack gslice triton clipper)
  dstack_run "$config" --policies dstack,gslice,triton,clipper -o "$OUT/run"
fi
plot

# The per-request and per-run files (tens of MB) and traces have been read into timeseries.csv.
find "$OUT/run" \( -name requests.csv -o -name runs.csv -o -name trace.json \) -delete
outputs=(dynamic_load.png timeseries.csv run/comparison.csv run/comparison.json run/config.json)
for p in "${policies[@]}"; do
  outputs+=("run/$p/metrics.csv" "run/$p/metrics.json")
done
finish "6. Behaviour under changing load: rates step up and down; allocations and SLO attainment over time." "${outputs[@]}"

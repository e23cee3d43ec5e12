#!/usr/bin/env bash
# Paper item 7: the cost of re-sizing a partition. (a) the costs measured on an H100 (copied from
# results/gpu-check/, when that file is in the checkout); (b) the dynamic_load workload under D-STACK
# on simulated H100s that differ only in the re-size cost (variants.csv: green contexts held, GSLICE's MPS
# standby hand-over, green contexts created, two sweep points, a cold MPS restart), with D-STACK's
# default re-planning and with damped re-planning; gslice and triton (which never re-size) as
# references. QUICK=1: 5 s of the workload, three of the six devices, no triton.
source "$(dirname "$0")/../common/lib.sh" "$@"
if [ "$BACKEND" = gpu ]; then
  # Part (b) varies the re-size cost of simulated devices: a simulation by construction.
  echo "resize_cost: part (b) is simulated whatever BACKEND says (it varies the simulated device's re-size cost)" >&2
  BACKEND=sim
fi

devices=(h100_gc_held h100_mps_standby h100_gc_create h100_sweep_10ms h100_sweep_100ms h100_mps_restart)
measured=$ROOT/results/gpu-check/h100-80gb-hbm3/earlier-6c6d513/bench_partitions.json
duration=()
if quick; then
  duration=(--duration 5)
  devices=(h100_gc_create h100_sweep_100ms h100_mps_restart)
fi
# The simulated H100s: devices/h100_sxm.json with each variant's re-size cost (variants.csv).
run "$PYTHON" "$EXP_DIR/make_devices.py" "$ROOT/devices/h100_sxm.json" "$EXP_DIR/variants.csv" "$OUT/devices"
export DSTACK_DEVICES_DIR=$OUT/devices
echo "export DSTACK_DEVICES_DIR=$OUT/devices" | sed "s|$ROOT/||g" >>"$OUT/commands.txt"

outputs=(resize_cost.png resize_cost.csv)
for dev in "${devices[@]}"; do outputs+=("devices/$dev.json"); done
if [ -f "$measured" ]; then
  mkdir -p "$OUT/measured"
  run cp "$measured" "$OUT/measured/bench_partitions.json"
  outputs+=(measured/bench_partitions.json measured_costs.csv)
else
  echo "resize_cost: no $measured: the figure shows the simulated part only" >&2
fi

# One config per (variant, device): dynamic_load's workload with `device:` substituted, and for the
# damped variant D-STACK's options appended (re-plan on a 50% rate change, 1 s rate epochs).
mkdir -p "$OUT/configs"
config() {  # variant device -> path of the config
  local f=$OUT/configs/$1_$2.yaml
  sed -e "s/^name: .*/name: resize_cost/" -e "s/^device: .*/device: $2/" -e "s/^policies: .*/policies: [dstack]/" \
    "$EXP_DIR/../dynamic_load/dynamic4.yaml" >"$f"
  if [ "$1" = damped ]; then
    printf 'policy_options:\n  dstack: {replan_change: 0.5, epoch_s: 1.0}\n' >>"$f"
  fi
  echo "# configs/$1_$2.yaml: experiments/dynamic_load/dynamic4.yaml with device: $2, policies: [dstack]$([ "$1" = damped ] && echo ' and policy_options.dstack {replan_change: 0.5, epoch_s: 1.0}')" >>"$OUT/commands.txt"
  echo "$f"
}
for variant in default damped; do
  for dev in "${devices[@]}"; do
    dstack_run "$(config "$variant" "$dev")" "${duration[@]}" -o "$OUT/$variant/$dev" >/dev/null
    outputs+=("$variant/$dev/comparison.csv" "$variant/$dev/dstack/metrics.json")
  done
done
refs=gslice,triton
quick && refs=gslice
dstack_run "$(config reference h100_gc_create)" --policies "$refs" "${duration[@]}" -o "$OUT/reference" >/dev/null
for p in ${refs//,/ }; do
  outputs+=("reference/$p/metrics.json")
done
plot
# The per-request and per-run files (tens of MB) and traces have been read into resize_cost.csv.
find "$OUT" \( -name requests.csv -o -name runs.csv -o -name trace.json \) -delete
finish "7. The cost of re-sizing a partition (green contexts vs the MPS restart GSLICE needed)." "${outputs[@]}"

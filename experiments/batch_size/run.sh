#!/usr/bin/env bash
# Paper item 3: batch size vs latency and throughput against the SLO, at the knee share. Per model:
# a profile at batches 1..64 on every partition size (simulated, or measured with BACKEND=gpu); the
# knee share (the parallelism model's knee at batch KNEE_BATCH, default 1); the batch optimizer's
# choice among the batches at the knee share, and its free choice of batch and SMs for the model's
# SLO and rate, both taking latencies from the same profile.
# Usage: experiments/batch_size/run.sh OUT_DIR   (env: QUICK=1, BACKEND=sim|gpu, DSTACK, PYTHON, KNEE_BATCH)
source "$(dirname "$0")/../common/lib.sh" "$@"
KNEE_BATCH=${KNEE_BATCH:-1}

# model:SLO ms:rate rps, as in the demo workload (experiments/demo/mixed4.yaml).
specs=(resnet50:15:2400 mobilenet_v2:8:4800 bert_base:30:800 vgg16:25:640)
if quick; then
  specs=("${specs[@]:0:2}") batches=1,2,4,8,16,32,64
elif [ "$BACKEND" = gpu ]; then
  batches=1,2,3,4,6,8,12,16,24,32,48,64
else
  batches=$(seq -s, 1 64)
fi
models=$(for s in "${specs[@]}"; do echo "${s%%:*}"; done | paste -sd, -)

profile "$models" "$batches"
run "$DSTACK" knee "$models" --batch "$KNEE_BATCH" --device "$DEVICE" --json >"$OUT/knee.json"

outputs=(profile.csv profile.json knee.json)
for s in "${specs[@]}"; do
  IFS=: read -r model slo rate <<<"$s"
  knee=$("$PYTHON" -c 'import json,sys; print(next(r["knee_sms"] for r in json.load(open(sys.argv[1]))["results"] if r["model"] == sys.argv[2]))' "$OUT/knee.json" "$model")
  # The profile's points at the knee share only: the optimizer then chooses among their batches.
  { grep '^#' "$OUT/profile.csv"; grep -v '^#' "$OUT/profile.csv" | awk -F, -v m="$model" -v k="$knee" 'NR == 1 || ($1 == m && $3 == k)'; } \
    >"$OUT/profile_${model}_knee.csv"
  echo "# profile_${model}_knee.csv: the rows of profile.csv for $model on its knee share, $knee SMs" >>"$OUT/commands.txt"
  # At the knee share: the model's rate if that share can carry it, else latency alone (rate 0).
  if ! run "$DSTACK" batch "$model" --slo "$slo" --rate "$rate" --profile "$OUT/profile_${model}_knee.csv" --json \
      >"$OUT/choice_${model}_knee.json" 2>"$OUT/refused.txt"; then
    cat "$OUT/refused.txt"
    run "$DSTACK" batch "$model" --slo "$slo" --rate 0 --profile "$OUT/profile_${model}_knee.csv" --json \
      >"$OUT/choice_${model}_knee.json"
    "$PYTHON" -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["requested_rate_rps"]=float(sys.argv[3]); d["rate_refused"]=open(sys.argv[2]).read().strip(); json.dump(d, open(p, "w"), indent=2)' \
      "$OUT/choice_${model}_knee.json" "$OUT/refused.txt" "$rate"
  fi
  # Free: any batch and any partition size of the profile.
  run "$DSTACK" batch "$model" --slo "$slo" --rate "$rate" --profile "$OUT/profile.csv" --json \
    >"$OUT/choice_${model}.json"
  outputs+=("choice_${model}_knee.json" "choice_${model}.json")
done
rm -f "$OUT/refused.txt"
plot   # writes batch_size.csv, choices.csv and batch_size.png
finish "3. Batch size vs latency and throughput against the SLO, at the knee share" \
  "${outputs[@]}" batch_size.csv choices.csv batch_size.png

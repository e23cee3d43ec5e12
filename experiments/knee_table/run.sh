#!/usr/bin/env bash
# Paper item 2: predicted vs profiled knee for every model and batch, with the error. The profile is
# simulated (or measured with BACKEND=gpu) for every zoo model at batches 1..64; and, when the
# repository holds a measured H100 profile (results/profile/h100-80gb-hbm3/, or MEASURED_PROFILE),
# the prediction is compared with it too.
# Usage: experiments/knee_table/run.sh OUT_DIR   (env: QUICK=1, BACKEND=sim|gpu, DSTACK, PYTHON,
#        MEASURED_PROFILE=path/to/profile.csv, or MEASURED_PROFILE= to skip that comparison)
source "$(dirname "$0")/../common/lib.sh" "$@"
MEASURED_PROFILE=${MEASURED_PROFILE-$ROOT/results/profile/h100-80gb-hbm3/profile.csv}

if quick; then
  models=resnet50,mobilenet_v2,bert_base batches=1,4,16
else
  models=all batches=1,2,4,8,16,32,64
fi
profile "$models" "$batches"
run "$DSTACK" knee "$models" --batches "$batches" --device "$DEVICE" --profile "$OUT/profile.csv" --json \
  >"$OUT/knee.json"
outputs=(profile.csv profile.json knee.json knee_table.csv)

# The committed measured profile: its models and batches, predicted by the same model.
if [ -n "$MEASURED_PROFILE" ] && [ -f "$MEASURED_PROFILE" ]; then
  m_models=$(grep -v '^#' "$MEASURED_PROFILE" | awk -F, 'NR > 1 && !seen[$1]++ { printf "%s%s", sep, $1; sep = "," }')
  m_batches=$(grep -v '^#' "$MEASURED_PROFILE" | awk -F, 'NR > 1 { print $2 }' | sort -nu | paste -sd, -)
  run "$DSTACK" knee "$m_models" --batches "$m_batches" --device "$DEVICE" --profile "$MEASURED_PROFILE" --json \
    >"$OUT/knee_measured.json"
  outputs+=(knee_measured.json knee_measured.csv)
else
  echo "knee_table: no measured profile (${MEASURED_PROFILE:-none}): the measured panel is left out"
fi
plot   # writes knee_table.csv, knee_measured.csv (when measured), knee_summary.json, knee_table.png
finish "2. Predicted vs profiled knee for every model and batch, with the error" \
  "${outputs[@]}" knee_summary.json knee_table.png

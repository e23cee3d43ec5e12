#!/usr/bin/env bash
# Paper item 1: latency vs SM share per DNN and batch (the knee curves), the predicted knee marked.
# A profile (simulated, or measured with BACKEND=gpu) of every zoo model at batches 1, 8, 32 on every
# partition size the device allows, and the parallelism model's predicted curve and knee beside it.
# Usage: experiments/knee_curves/run.sh OUT_DIR   (env: QUICK=1, BACKEND=sim|gpu, DSTACK, PYTHON)
source "$(dirname "$0")/../common/lib.sh" "$@"

if quick; then
  models=resnet50,mobilenet_v2 batches=1,8 sms=8,16,32,48,64,96,132
else
  models=all batches=1,8,32 sms=all
fi
profile "$models" "$batches" --sms "$sms"
# The prediction over every allowed size, with the profile's points and knee beside it.
run "$DSTACK" knee "$models" --batches "$batches" --device "$DEVICE" --profile "$OUT/profile.csv" --json \
  >"$OUT/knee.json"
plot   # writes knee_curves.csv (one row per model, batch, SMs) and knee_curves.png
finish "1. Latency vs SM share per DNN and batch (the knee curves), with the predicted knee marked" \
  profile.csv profile.json knee.json knee_curves.csv knee_curves.png

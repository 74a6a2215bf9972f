#!/usr/bin/env bash
# Continue the scratch detector on one CUDA GPU for a fixed wall time, from an exported
# safetensors file (the shipped one: colour input), with the shipped weights' recipe: the
# real-damage mix, sparse-damage crops, hand-traced real crops (research/real_traces) with
# defects drawn on some, intact crops penalised. A GPU slot may last minutes, and the CPU
# gives ~5000 steps an hour where the GPU gives tens of thousands.
#
#   bash scripts/train_cuda_detector.sh INIT_EXPORT RUN_DIR [MINUTES_AT_2e-4] [MINUTES_AT_5e-5]
#
# DATA (default ../shared/data) must hold clean/ and real_old/; DEVICE (default cuda),
# WORKERS (default: cores - 2), INTACT (the --intact-weight, default 0.5), LR_HIGH and
# LR_LOW can be set, e.g. to run two variants side by side with half the workers each. Exports go to RUN_DIR: detector_phase1.safetensors after the first
# phase, detector.safetensors at the end.
set -euo pipefail
init="$1"
run="$2"
high="${3:-6}"
low="${4:-2.5}"
data="${DATA:-../shared/data}"
source "$(dirname "$0")/in_place.sh"  # also: device, workers (DEVICE, WORKERS)
seed_run "$run" detector.safetensors "$init"
repo="$(cd "$(dirname "$0")/.." && pwd)"
args=(--clean "$data/clean" --real-old "$data/real_old" --out "$run" --colour
      --real-damage --clean-share 0.15 --sparse-share 0.3 --mild-share 0.35 --graphics 0.2
      --thin-content 0.3 --dot-prints 0.1 --intact-weight "${INTACT:-0.5}"
      --real-masks "$repo/research/real_traces" --traced-per-batch 9 --drawn-on-traced 0.6
      --held-out "$repo/benchmarks/real_masks"
      --crop 192 --batch-size 24 --device "$device" --workers "$workers" --threads 1
      --val-every 1000 --checkpoint-every 1000 --steps 1000000 --resume)
oldphoto train detector "${args[@]}" --lr "${LR_HIGH:-1e-4}" --max-minutes "$high"
cp "$run/detector.safetensors" "$run/detector_phase1.safetensors"
oldphoto train detector "${args[@]}" --lr "${LR_LOW:-2e-5}" --warmup-steps 100 --max-minutes "$low"
ls -l "$run"

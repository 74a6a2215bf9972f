#!/usr/bin/env bash
# Continue (or start) the image-space restorer on one CUDA GPU for a fixed wall time: the
# CPU gives ~5,000 steps an hour at batch 16, 128 px; a GPU slot of minutes at batch 64,
# 192 px with every core synthesizing batches gives more, on larger crops.
#
#   bash scripts/train_cuda_restorer.sh INIT_EXPORT_OR_NONE RUN_DIR [MINUTES] [WIDTH]
#
# INIT_EXPORT_OR_NONE: a restorer export to continue from (research/checkpoints/ or
# weights/), or "none" for a new network of WIDTH (default 32). DATA (default
# ../shared/data) must hold clean/ and damage_overlays/; DEVICE, WORKERS and LR (default
# 3e-4), KEEP (the do-no-harm weight, default 0), NOISE_ESTIMATE and NLM_MIN_SIGMA (the
# shipped weights' flat_blocks and 2.5: a run must keep the config of what it continues)
# can be set. The mix is the shipped
# step's (60 % crops that lost detail alone: with the keep term from the start it learned no
# deblurring); finish with KEEP=3 LR=7e-5 to bring the intact pixels of sharp photos back.
# The export goes to RUN_DIR/restorer.safetensors.
set -euo pipefail
init="$1"
run="$2"
minutes="${3:-9}"
width="${4:-32}"
data="${DATA:-../shared/data}"
source "$(dirname "$0")/in_place.sh"  # also: device, workers (DEVICE, WORKERS)
if [ "$init" != none ]; then
    seed_run "$run" restorer.safetensors "$init"
fi
export OLDPHOTO_DAMAGE_OVERLAYS="${OLDPHOTO_DAMAGE_OVERLAYS:-$data/damage_overlays}"
oldphoto train restorer --clean "$data/clean" --out "$run" --width "$width" \
    --noise-estimate "${NOISE_ESTIMATE:-flat_blocks}" --nlm-min-sigma "${NLM_MIN_SIGMA:-2.5}" \
    --crop 192 --batch-size 64 --device "$device" --workers "$workers" --threads 1 \
    --clean-share 0.2 --damage-only-share 0.1 --mild-share 0.05 --detail-share 0.6 \
    --hole-weight 3 --keep-weight "${KEEP:-0}" \
    --lr "${LR:-3e-4}" --warmup-steps 100 --val-every 500 --checkpoint-every 500 \
    --steps 1000000 --resume --max-minutes "$minutes"
ls -l "$run"

#!/usr/bin/env bash
# Continue the face restorer (the default face stage, oldphoto-face-weights) on one CUDA GPU
# for a fixed wall time: on the CPU it had 2,500 steps at batch 16, 128 px; a GPU slot of
# minutes at batch 64 with every core synthesizing batches gives several times that.
#
#   bash scripts/train_cuda_face_restorer.sh INIT_EXPORT RUN_DIR [MINUTES]
#
# INIT_EXPORT: a face_restorer.safetensors to continue from (in a checkout:
# plugins/oldphoto-face-weights/oldphoto_face_weights/face_restorer.safetensors, or a run's
# export). DATA (default ../shared/data) must hold faces/ and damage_overlays/; DEVICE,
# WORKERS, LR (default 3e-4) and DROPOUT (mask dropout, default 0.4: the shipped run's last
# stretch) can be set. The export goes to RUN_DIR/face_restorer.safetensors (research use:
# the faces derive from FFHQ).
set -euo pipefail
init="$1"
run="$2"
minutes="${3:-9}"
data="${DATA:-../shared/data}"
source "$(dirname "$0")/in_place.sh"  # also: device, workers (DEVICE, WORKERS)
seed_run "$run" face_restorer.safetensors "$init"
export OLDPHOTO_DAMAGE_OVERLAYS="${OLDPHOTO_DAMAGE_OVERLAYS:-$data/damage_overlays}"
# --init-from: the run takes INIT's config (its noise estimate is not the general restorer's)
oldphoto train face-restorer --faces "$data/faces" --out "$run" --init-from "$init" \
    --crop 128 --batch-size 64 --device "$device" --workers "$workers" --threads 1 \
    --mask-dropout "${DROPOUT:-0.4}" --lr "${LR:-3e-4}" --warmup-steps 100 \
    --val-every 500 --checkpoint-every 500 --steps 1000000 --resume --max-minutes "$minutes"
ls -l "$run"

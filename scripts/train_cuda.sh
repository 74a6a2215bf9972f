#!/usr/bin/env bash
# The longest training (VAE2, VAE1, then the mapping with L1 and then the GAN terms) on one
# CUDA GPU, for when one is available: run from the repository root, with the data beside it in
# ../shared/data. Each stage resumes from RUNS/<name> (checkpoint, or exported weights when
# the checkpoint is gone) and exports safetensors there; copy them to weights/ when their
# validation figures beat the shipped ones (`oldphoto weights list` shows those).
#
#   bash scripts/train_cuda.sh [RUNS=runs/cuda] [MINUTES_PER_STAGE=20]
set -euo pipefail
runs="${1:-runs/cuda}"
minutes="${2:-20}"
data="${DATA:-../shared/data}"
# Damage synthesis in worker processes (in_place.sh sets device and workers): on a GPU it,
# not the networks, bounds the speed.
source "$(dirname "$0")/in_place.sh"
common=(--device "$device" --threads 4 --workers "$workers" --val-every 500 --checkpoint-every 500
        --max-minutes "$minutes")

oldphoto train vae2 --clean "$data/clean" --out "$runs/vae2" --batch-size 32 --crop 192 \
    --steps 20000 --lr 2e-4 "${common[@]}"
oldphoto train vae1 --clean "$data/clean" --real-old "$data/real_old" --out "$runs/vae1" \
    --init-from "$runs/vae2/vae2.safetensors" --batch-size 32 --crop 192 --steps 20000 \
    --lr 2e-4 "${common[@]}"
# The mapping: the paper's 512 channels would not meet the CPU speed target; 192 does on a GPU.
mapping=(--clean "$data/clean" --vae1 "$runs/vae1/vae1.safetensors"
         --vae2 "$runs/vae2/vae2.safetensors" --out "$runs/mapping" --width 96
         --blocks 2 2 3 --batch-size 32 --crop 192 --latent-l1 10 --image-l1 30)
oldphoto train mapping "${mapping[@]}" --steps 30000 --lr 5e-4 "${common[@]}"
oldphoto train mapping "${mapping[@]}" --steps 40000 --lr 2e-4 --gan-weight 1 "${common[@]}"
ls -l "$runs"/*/*.safetensors

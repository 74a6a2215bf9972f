#!/usr/bin/env bash
# Continue the mapping T_Z (GAN phase, the shipped 8 x 96 architecture) on one CUDA GPU for
# a fixed wall time, from an exported safetensors file: a GPU slot of minutes, not hours,
# needs one command. Damage synthesis runs in worker processes
# (`--workers`); the GPU step is far cheaper than one crop's damage on one core.
#
#   bash scripts/train_cuda_mapping.sh INIT_EXPORT RUN_DIR [MINUTES_AT_1e-4] [MINUTES_AT_3e-5] [ARGS...]
#
# ARGS go to `oldphoto train mapping` as they are, e.g. --gan-weight 0.5.
# DATA (default ../shared/data) must hold clean/; DEVICE (default cuda) and WORKERS
# (default: cores - 2) can be set for a dry run on the CPU. Exports go to RUN_DIR:
# mapping_phase1.safetensors after the first phase, mapping.safetensors at the end.
set -euo pipefail
init="$1"
run="$2"
high="${3:-4.5}"
low="${4:-2.5}"
extra=("${@:5}")
data="${DATA:-../shared/data}"
source "$(dirname "$0")/in_place.sh"  # also: device, workers (DEVICE, WORKERS)
seed_run "$run" mapping.safetensors "$init"
args=(--clean "$data/clean" --vae1 weights/vae1.safetensors --vae2 weights/vae2.safetensors
      --out "$run" --width 96 --blocks 2 2 3 --residual --crop 128 --batch-size 32
      --latent-l1 10 --image-l1 30 --clean-share 0.2 --mild-share 0.4 --keep-tone
      --gan-weight 1 --device "$device" --workers "$workers" --threads 4
      --val-every 1000 --checkpoint-every 1000 --steps 1000000 --resume "${extra[@]}")
oldphoto train mapping "${args[@]}" --lr 1e-4 --max-minutes "$high"
cp "$run/mapping.safetensors" "$run/mapping_phase1.safetensors"
oldphoto train mapping "${args[@]}" --lr 3e-5 --max-minutes "$low"
ls -l "$run"

# Sourced by the GPU training scripts; it also sets their device and workers (below).
# Without an install (a bare GPU image, no index to build from), run the package from this
# checkout: `oldphoto` calls `python3 -m oldphoto_cli`, which finds its built-in plugins
# inside the package and the shipped weights in weights/.
if ! command -v oldphoto >/dev/null; then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    oldphoto() { python3 -m oldphoto_cli "$@"; }
fi

# The device and the worker processes that synthesize the damage: DEVICE (default cuda) and
# WORKERS (default: all cores but two) can be set, e.g. for a dry run on the CPU.
device="${DEVICE:-cuda}"
workers="${WORKERS:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}"
if [ "$device" = cuda ]; then
    python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
fi

# seed_run RUN_DIR FILE INIT: a run folder that --resume continues from INIT's exported
# weights (as FILE) unless it already has its own.
seed_run() {
    mkdir -p "$1"
    [ -e "$1/$2" ] || cp "$3" "$1/$2"
}

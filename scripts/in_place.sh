# Sourced by the GPU training scripts. Without an install (a bare GPU image, no index to
# build from), run the package from this checkout: plugins/ and weights/ become importable
# under the names the wheel installs them as, and `oldphoto` calls `python3 -m oldphoto_cli`.
if ! command -v oldphoto >/dev/null; then
    shim="$(mktemp -d)"
    ln -s "$PWD/plugins" "$shim/oldphoto_plugins"
    ln -s "$PWD/weights" "$shim/oldphoto_weights"
    export PYTHONPATH="$PWD:$shim${PYTHONPATH:+:$PYTHONPATH}"
    oldphoto() { python3 -m oldphoto_cli "$@"; }
fi

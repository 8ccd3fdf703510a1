#!/usr/bin/env bash
# tools/main.sh — the main job: installs what the program needs (tools/setup.sh:
# the Debian packages, dataset-fashion-mnist and lua-cjson included), builds,
# and trains the seed chapter's custom loop (examples/seed_09_custom_loop.lua)
# on the real Fashion-MNIST data: 5 epochs with the live status bar, then the
# validation and test accuracy, the time per epoch and the saved model's path.
#
#   tools/main.sh                      train, save build/fashion_mnist_model.safetensors
#   tools/main.sh --evaluate [PATH]    load the saved model (or PATH) and evaluate it
#   tools/main.sh --epochs 2 --seed 7  other options go to the example
#                                      (--epochs N, --seed N, --steps N, --save PATH, --quiet)
#   tools/main.sh --demo               the tensor tour (examples/demo.lua)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
model=$root/build/fashion_mnist_model.safetensors
example=$root/examples/seed_09_custom_loop.lua
case ${1:-} in
  --demo)
    shift
    exec "$root/build/tlua" "$root/examples/demo.lua" "$@" ;;
  --evaluate)
    path=${2:-$model}
    if [ ! -f "$path" ]; then
      echo "tools/main.sh --evaluate: no saved model at $path (run tools/main.sh first to train and save one)" >&2
      exit 1
    fi
    exec "$root/build/tlua" "$example" --load "$path" ;;
esac
save=(--save "$model")
for a in "$@"; do [ "$a" = --save ] && save=(); done
exec "$root/build/tlua" "$example" "${save[@]}" "$@"

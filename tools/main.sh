#!/usr/bin/env bash
# tools/main.sh — the main job: installs, builds, runs the demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
exec "$root/build/tlua" "$root/examples/demo.lua" "$@"
